package jetstream_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	js "github.com/orderlane/orderlane/bus/jetstream"
)

// TestSingletonRunsOnOneWorker: three workers ask to run the same job;
// it runs on one at a time, moves at once when its holder stops, and
// after LeaseTTL when its holder's connection dies.
func TestSingletonRunsOnOneWorker(t *testing.T) {
	t.Parallel()
	e := newEmbedded(t)
	cfg := js.Config{LeaseTTL: 2 * time.Second}
	var (
		running atomic.Int32
		most    atomic.Int32
		mu      sync.Mutex
		current string // the worker running the job now
	)
	job := func(id string) func(context.Context) {
		return func(ctx context.Context) {
			n := running.Add(1)
			for {
				if m := most.Load(); n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			mu.Lock()
			current = id
			mu.Unlock()
			<-ctx.Done()
			mu.Lock()
			if current == id {
				current = ""
			}
			mu.Unlock()
			running.Add(-1)
		}
	}
	type worker struct {
		id   string
		stop func()
		kill func()
	}
	var ws []worker
	for _, id := range []string{"a", "b", "c"} {
		nc := connectTo(t, e)
		c := cfg
		c.WorkerID = id
		b, err := js.New(context.Background(), nc, c)
		if err != nil {
			t.Fatal(err)
		}
		stop, err := b.Singleton(context.Background(), "refresher", job(id))
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, worker{id: id, stop: stop, kill: nc.Close})
	}
	holder := func() string {
		mu.Lock()
		defer mu.Unlock()
		return current
	}
	waitRunning := func(what string, not string) string {
		t.Helper()
		deadline := time.Now().Add(6 * time.Second)
		for {
			if h := holder(); h != "" && h != not && running.Load() == 1 {
				return h
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no other worker runs the job (current %q, running %d)", what, holder(), running.Load())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	first := holder()
	if first == "" || running.Load() != 1 {
		t.Fatalf("at start: holder %q, running %d; want exactly one", first, running.Load())
	}
	time.Sleep(time.Second) // a few rounds: nobody else starts it
	if h := holder(); h != first {
		t.Fatalf("the job moved from %s to %s with nobody stopping", first, h)
	}
	for _, w := range ws {
		if w.id == first {
			w.stop()
		}
	}
	second := waitRunning("after the holder stopped", first)
	for _, w := range ws {
		if w.id == second {
			w.kill() // crash: its lease expires after LeaseTTL
		}
	}
	third := waitRunning("after the holder's connection died", second)
	if third == first || third == second {
		t.Fatalf("job moved %s → %s → %s", first, second, third)
	}
	if m := most.Load(); m != 1 {
		t.Fatalf("the job ran on %d workers at once", m)
	}
	for _, w := range ws {
		w.stop()
	}
}
