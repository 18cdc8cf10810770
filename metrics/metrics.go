// Package metrics exposes what is not counted where it happens: the state
// of the bus subscriptions, read at scrape time.
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderlane/orderlane/bus"
)

// Subscriptions is a collector over running subscriptions.
type Subscriptions struct {
	subs                                      []bus.Subscription
	handled, retries, dead, held, groups, lag *prometheus.Desc
}

// NewSubscriptions returns a collector for subs.
func NewSubscriptions(subs ...bus.Subscription) *Subscriptions {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("orderlane_subscription_"+name, help, []string{"subscription"}, nil)
	}
	return &Subscriptions{
		subs:    subs,
		handled: d("handled_total", "Events handled successfully."),
		retries: d("retries_total", "Failed handler calls scheduled for retry."),
		dead:    d("dead_letters_total", "Events moved to the dead-letter stream."),
		held:    d("held", "Events in memory: in flight or waiting behind their group."),
		groups:  d("groups", "Message groups with events in memory."),
		lag:     d("lag", "Events in the topic not yet handed to the subscription."),
	}
}

// Describe implements prometheus.Collector.
func (c *Subscriptions) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.handled, c.retries, c.dead, c.held, c.groups, c.lag} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Subscriptions) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range c.subs {
		st := s.Stats(ctx)
		ch <- prometheus.MustNewConstMetric(c.handled, prometheus.CounterValue, float64(st.Handled), st.Name)
		ch <- prometheus.MustNewConstMetric(c.retries, prometheus.CounterValue, float64(st.Retries), st.Name)
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.CounterValue, float64(st.DeadLettered), st.Name)
		ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, float64(st.Held), st.Name)
		ch <- prometheus.MustNewConstMetric(c.groups, prometheus.GaugeValue, float64(st.Groups), st.Name)
		if st.Lag >= 0 {
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(st.Lag), st.Name)
		}
	}
}
