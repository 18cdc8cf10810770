package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/metrics"
)

type fakeSub struct{ st bus.Stats }

func (f fakeSub) Stop(context.Context) error      { return nil }
func (f fakeSub) Stats(context.Context) bus.Stats { return f.st }

type fakeDLQ struct{ calls int }

func (f *fakeDLQ) DeadLetterCounts(context.Context) ([]bus.DeadLetterCount, error) {
	f.calls++
	return []bus.DeadLetterCount{
		{Subscription: "orders", Reason: bus.ReasonPermanent, Count: 2, Oldest: time.Now().Add(-time.Hour)},
		{Subscription: "orders", Reason: bus.ReasonMaxAttempts, Count: 1, Oldest: time.Now()},
	}, nil
}

// gather scrapes c and returns each sample's value by name and label
// values in label-name order ("name{v1,v2}").
func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			k := mf.GetName() + "{"
			for i, l := range m.GetLabel() {
				if i > 0 {
					k += ","
				}
				k += l.GetValue()
			}
			k += "}"
			out[k] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	if m.GetCounter() != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

// TestSubscriptionGauges: the stuck-work state of each subscription.
func TestSubscriptionGauges(t *testing.T) {
	t.Parallel()
	got := gather(t, metrics.NewSubscriptions(fakeSub{bus.Stats{
		Name: "orders", Held: 7, InFlight: 2, Retrying: 1, Blocked: 1, Paused: true,
		OldestUnacked: 90 * time.Second, Lag: 3, Pending: 10, Redeliveries: 4, OutageRetries: 5, Pauses: 2, Partitions: 6,
	}}))
	for k, want := range map[string]float64{
		"orderlane_subscription_oldest_unacked_seconds{orders}": 90,
		"orderlane_subscription_paused{orders}":                 1,
		"orderlane_subscription_pending{orders}":                10,
		"orderlane_subscription_partitions{orders}":             6,
		"orderlane_subscription_in_flight{orders}":              2,
		"orderlane_subscription_blocked{orders}":                1,
		"orderlane_subscription_retrying{orders}":               1,
		"orderlane_subscription_redeliveries_total{orders}":     4,
		"orderlane_subscription_outage_retries_total{orders}":   5,
		"orderlane_subscription_pauses_total{orders}":           2,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
}

// TestDeadLetterGauges: counts by subscription and reason, the oldest's
// age, and one reading of the queue per MaxAge however often it is
// scraped.
func TestDeadLetterGauges(t *testing.T) {
	t.Parallel()
	src := &fakeDLQ{}
	c := metrics.NewDeadLetters(src, time.Hour, nil)
	var got map[string]float64
	for range 3 {
		got = gather(t, c)
	}
	if src.calls != 1 {
		t.Errorf("dead-letter queue read %d times for 3 scrapes within MaxAge, want 1", src.calls)
	}
	if got["orderlane_dead_letters{permanent,orders}"] != 2 || got["orderlane_dead_letters{max_attempts,orders}"] != 1 {
		t.Errorf("counts: %v", got)
	}
	if age := got["orderlane_dead_letter_oldest_age_seconds{orders}"]; age < 3599 || age > 3700 {
		t.Errorf("oldest age %v s, want about an hour", age)
	}
}
