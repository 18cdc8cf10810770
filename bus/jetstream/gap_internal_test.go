package jetstream

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/bus"
)

// TestGapStopsQueueingAndAsksForRestart: a consumer sequence that skips a
// delivery stops the subscription from queueing anything more and calls
// for a restart once; numbers that go back (a new consumer leader sending
// again) are not gaps.
func TestGapStopsQueueingAndAsksForRestart(t *testing.T) {
	calls := make(chan struct{}, 10)
	s := &subscription{log: slog.New(slog.NewTextHandler(io.Discard, nil)), onGap: func() { calls <- struct{}{} }}
	for _, c := range []uint64{1, 2, 3, 2, 3, 4} {
		if s.gap(c) {
			t.Fatalf("delivery %d reported as a gap", c)
		}
	}
	if !s.gap(6) {
		t.Fatal("delivery 6 after 4 not reported as a gap")
	}
	if !s.gap(5) || !s.gap(7) {
		t.Fatal("deliveries after a gap must not be queued until the restart")
	}
	<-calls
	select {
	case <-calls:
		t.Fatal("restart asked for twice")
	default:
	}
}

// TestGapRestartResumesFromAckFloor: a partition restarted after a gap
// (forced here mid-stream) hands over again what it had not acknowledged,
// in order, keeps its lease, and loses nothing.
func TestGapRestartResumesFromAckFloor(t *testing.T) {
	e, err := StartEmbedded(EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	b, err := New(ctx, e.Conn, Config{Partitions: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	const groups, per = 10, 100
	var (
		mu   sync.Mutex
		next = map[string]int{}
		seen = map[string]bool{}
		bad  []string
	)
	sub, err := b.Subscribe(ctx, bus.SubscriptionConfig{Name: "gap", Concurrency: 4}, func(_ context.Context, d *bus.Delivery) error {
		i, _ := strconv.Atoi(string(d.Data))
		mu.Lock()
		defer mu.Unlock()
		id := d.Group + "/" + string(d.Data)
		if seen[id] {
			return nil
		}
		if i != next[d.Group] {
			bad = append(bad, fmt.Sprintf("%s: %d before %d", d.Group, i, next[d.Group]))
		}
		seen[id], next[d.Group] = true, i+1
		time.Sleep(100 * time.Microsecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop(ctx)
	p := sub.(*partitioned)
	for i := range per {
		for g := range groups {
			if _, err := b.Publish(ctx, bus.Message{ID: fmt.Sprint(g, "-", i), Subject: "x.order", Group: fmt.Sprint("g", g), Data: []byte(strconv.Itoa(i))}); err != nil {
				t.Fatal(err)
			}
		}
		if i == per/2 {
			for part := range 2 {
				p.mu.Lock()
				old := p.owned[part].sub
				p.mu.Unlock()
				p.onGap(part)(old)
			}
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == groups*per {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d handled after the restarts", n, groups*per)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("order broken across the restart: %v", bad[:min(len(bad), 5)])
	}
	if got := p.Owned(); len(got) != 2 || p.restarts != 2 {
		t.Fatalf("after two restarts: owned %v, restarts %d", got, p.restarts)
	}
}
