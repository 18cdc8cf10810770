// Package metrics exposes what is not counted where it happens: the state
// of the bus subscriptions and of the dead-letter queue, read at scrape
// time.
package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderlane/orderlane/bus"
)

// Subscriptions is a collector over running subscriptions.
type Subscriptions struct {
	subs []bus.Subscription

	handled, retries, dead, redeliveries, outageRetries, pauses *prometheus.Desc
	held, groups, inFlight, retrying, blocked, paused           *prometheus.Desc
	oldest, lag, pending, partitions                            *prometheus.Desc
}

// NewSubscriptions returns a collector for subs.
func NewSubscriptions(subs ...bus.Subscription) *Subscriptions {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("orderlane_subscription_"+name, help, []string{"subscription"}, nil)
	}
	return &Subscriptions{
		subs:          subs,
		handled:       d("handled_total", "Events handled successfully."),
		retries:       d("retries_total", "Failed handler calls scheduled for retry."),
		dead:          d("dead_letters_total", "Events moved to the dead-letter stream."),
		redeliveries:  d("redeliveries_total", "Events the broker handed over again (restart, expired ack deadline)."),
		outageRetries: d("outage_retries_total", "Handler calls that found a dependency unavailable (not counted as attempts)."),
		pauses:        d("pauses_total", "Pauses of the subscription for an unavailable dependency."),
		held:          d("held", "Events in memory: in flight or waiting behind their group."),
		groups:        d("groups", "Message groups with events in memory, or held by a dead letter."),
		inFlight:      d("in_flight", "Groups with a handler call running."),
		retrying:      d("retrying", "Groups waiting to retry their head event."),
		blocked:       d("blocked", "Groups held until their dead letter is replayed or discarded (strict mode)."),
		paused:        d("paused", "1 while the subscription is paused for an unavailable dependency."),
		oldest:        d("oldest_unacked_seconds", "Age since publication of the oldest event held and not acknowledged."),
		lag:           d("lag", "Events in the topic not yet handed to the subscription."),
		pending:       d("pending", "Events of the subscription not yet acknowledged (lag plus handed over)."),
		partitions:    d("partitions", "Partitions of the topic this instance holds for the subscription."),
	}
}

// Describe implements prometheus.Collector.
func (c *Subscriptions) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.handled, c.retries, c.dead, c.redeliveries, c.outageRetries, c.pauses,
		c.held, c.groups, c.inFlight, c.retrying, c.blocked, c.paused, c.oldest, c.lag, c.pending, c.partitions,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Subscriptions) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range c.subs {
		st := s.Stats(ctx)
		counter := func(d *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), st.Name)
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, st.Name)
		}
		counter(c.handled, st.Handled)
		counter(c.retries, st.Retries)
		counter(c.dead, st.DeadLettered)
		counter(c.redeliveries, st.Redeliveries)
		counter(c.outageRetries, st.OutageRetries)
		counter(c.pauses, st.Pauses)
		gauge(c.held, float64(st.Held))
		gauge(c.groups, float64(st.Groups))
		gauge(c.inFlight, float64(st.InFlight))
		gauge(c.retrying, float64(st.Retrying))
		gauge(c.blocked, float64(st.Blocked))
		gauge(c.paused, bool01(st.Paused))
		gauge(c.oldest, st.OldestUnacked.Seconds())
		gauge(c.partitions, float64(st.Partitions))
		if st.Lag >= 0 {
			gauge(c.lag, float64(st.Lag))
		}
		if st.Pending >= 0 {
			gauge(c.pending, float64(st.Pending))
		}
	}
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// DeadLetterCounter is the dead-letter queue as DeadLetters reads it (the
// bus driver).
type DeadLetterCounter interface {
	DeadLetterCounts(ctx context.Context) ([]bus.DeadLetterCount, error)
}

// DeadLetters is a collector over the dead-letter queue: how many dead
// letters wait, by subscription and reason, and the age of the oldest per
// subscription. Reading the queue takes one pass over it, so a reading is
// reused for MaxAge.
type DeadLetters struct {
	src    DeadLetterCounter
	maxAge time.Duration
	log    *slog.Logger
	count  *prometheus.Desc
	oldest *prometheus.Desc

	mu     sync.Mutex
	at     time.Time
	counts []bus.DeadLetterCount
}

// NewDeadLetters returns a collector over src; readings are reused for
// maxAge (default 10s).
func NewDeadLetters(src DeadLetterCounter, maxAge time.Duration, log *slog.Logger) *DeadLetters {
	if maxAge <= 0 {
		maxAge = 10 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	return &DeadLetters{
		src: src, maxAge: maxAge, log: log,
		count: prometheus.NewDesc("orderlane_dead_letters", "Dead letters waiting to be replayed or discarded.",
			[]string{"subscription", "reason"}, nil),
		oldest: prometheus.NewDesc("orderlane_dead_letter_oldest_age_seconds", "Age of the oldest dead letter waiting.",
			[]string{"subscription"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *DeadLetters) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.count
	ch <- c.oldest
}

// Collect implements prometheus.Collector.
func (c *DeadLetters) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if time.Since(c.at) >= c.maxAge {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		counts, err := c.src.DeadLetterCounts(ctx)
		cancel()
		if err != nil {
			c.log.Warn("metrics: dead letters not counted", "err", err)
		} else {
			c.counts, c.at = counts, time.Now()
		}
	}
	counts := c.counts
	c.mu.Unlock()
	oldest := map[string]time.Time{}
	now := time.Now()
	for _, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(n.Count), n.Subscription, n.Reason)
		if o, ok := oldest[n.Subscription]; !ok || n.Oldest.Before(o) {
			oldest[n.Subscription] = n.Oldest
		}
	}
	for sub, o := range oldest {
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, now.Sub(o).Seconds(), sub)
	}
}
