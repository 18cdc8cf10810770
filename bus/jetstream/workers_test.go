package jetstream_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/bus/bustest"
	js "github.com/orderlane/orderlane/bus/jetstream"
)

// storm checks what several workers sharing one subscription did: every
// group's messages were first handled in append order, no group was ever
// in two handlers at once (on one worker or across workers), and every
// acknowledged message was handled.
type storm struct {
	mu       sync.Mutex
	next     map[string]int // group -> next index expected on first handling
	seen     map[string]bool
	inFlight map[string]string // group -> worker handling it now
	byWorker map[string]int
	redone   int
	bad      []string
}

func newStorm() *storm {
	return &storm{next: map[string]int{}, seen: map[string]bool{}, inFlight: map[string]string{}, byWorker: map[string]int{}}
}

func (s *storm) handler(worker string) bus.Handler {
	return func(ctx context.Context, d *bus.Delivery) error {
		var i int
		if _, err := fmt.Sscan(string(d.Data), &i); err != nil {
			return bus.Permanent(err)
		}
		s.mu.Lock()
		if other, busy := s.inFlight[d.Group]; busy {
			s.bad = append(s.bad, fmt.Sprintf("group %s: %s handles %d while %s is handling it", d.Group, worker, i, other))
		}
		s.inFlight[d.Group] = worker
		s.mu.Unlock()
		// Widen the window in which a second holder would show.
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.inFlight, d.Group)
		if ctx.Err() != nil {
			return ctx.Err() // cancelled: not handled
		}
		id := d.Group + "/" + string(d.Data)
		if s.seen[id] {
			s.redone++ // a redelivery after a hand-over: the store absorbs it by key
			return nil
		}
		if i != s.next[d.Group] {
			s.bad = append(s.bad, fmt.Sprintf("group %s: %s first-handled %d, expected %d", d.Group, worker, i, s.next[d.Group]))
		}
		s.seen[id], s.next[d.Group] = true, i+1
		s.byWorker[worker]++
		return nil
	}
}

func (s *storm) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// worker is one orderlane worker instance: its own connection, its own
// bus with its own worker id, one subscription.
type worker struct {
	id  string
	nc  *nats.Conn
	bus *js.Bus
	sub bus.Subscription
}

type owner interface{ Owned() []int }

func (w *worker) owned() []int { return w.sub.(owner).Owned() }

func startWorker(t *testing.T, nc *nats.Conn, cfg js.Config, id string, s *storm) *worker {
	t.Helper()
	cfg.WorkerID = id
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := js.New(ctx, nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := b.Subscribe(ctx, bus.SubscriptionConfig{Name: "orders", Concurrency: 8,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond}, s.handler(id))
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{id: id, nc: nc, bus: b, sub: sub}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.sub.Stop(sctx)
	})
	return w
}

// publishStorm appends the messages numbered [from, to) to each of groups
// groups, the groups interleaved at random, each publisher pausing pace
// between publishes, each publish retried until acknowledged. at(n) runs
// after the n-th acknowledged publish (for faults mid-storm).
func publishStorm(t *testing.T, b *js.Bus, groups, from, to, publishers int, pace time.Duration, at func(n int64)) int64 {
	t.Helper()
	var acked atomic.Int64
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			next := make([]int, groups)
			for g := range next {
				next[g] = from
			}
			mine := []int{}
			for g := p; g < groups; g += publishers {
				mine = append(mine, g)
			}
			for len(mine) > 0 {
				k := rand.IntN(len(mine))
				g := mine[k]
				i := next[g]
				group := fmt.Sprintf("shopee:%d:%d", g%7, g)
				deadline := time.Now().Add(30 * time.Second)
				for {
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					_, err := b.Publish(ctx, bus.Message{ID: fmt.Sprintf("%s-%d", group, i), Subject: "shopee.order", Group: group, Data: []byte(fmt.Sprint(i))})
					cancel()
					if err == nil {
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("publish %s/%d never acknowledged: %v", group, i, err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				if at != nil {
					at(acked.Add(1))
				} else {
					acked.Add(1)
				}
				if next[g] = i + 1; next[g] == to {
					mine = slices.Delete(mine, k, k+1)
				}
				time.Sleep(pace)
			}
		})
	}
	wg.Wait()
	return acked.Load()
}

func waitAll(t *testing.T, s *storm, want int, within time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for s.count() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d acknowledged messages handled", what, s.count(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitOwnership waits until the live workers hold every partition exactly
// once between them, each holding at least one.
func waitOwnership(t *testing.T, partitions int, within time.Duration, ws ...*worker) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		count := make([]int, partitions)
		ok := true
		var got []string
		for _, w := range ws {
			o := w.owned()
			got = append(got, fmt.Sprintf("%s=%v", w.id, o))
			ok = ok && len(o) > 0
			for _, p := range o {
				count[p]++
			}
		}
		for _, c := range count {
			ok = ok && c == 1
		}
		if ok {
			t.Logf("partitions settled: %s", strings.Join(got, " "))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("partitions not spread over %d workers, each once: %s", len(ws), strings.Join(got, " "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *storm) check(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bad) > 0 {
		t.Fatalf("%d per-group violations, first: %v", len(s.bad), s.bad[:min(len(s.bad), 5)])
	}
	t.Logf("handled per worker %v; %d redeliveries absorbed", s.byWorker, s.redone)
}

// TestWorkersShareSubscription: two workers split the partitions of one
// subscription; a third joins mid-storm and takes its share; one is
// killed (its connection dropped, nothing released) and its partitions
// move to the others once its leases expire. Every message is handled,
// each group first-handled in append order, never in two places at once.
func TestWorkersShareSubscription(t *testing.T) {
	t.Parallel()
	e := newEmbedded(t)
	connect := func() *nats.Conn { return connectTo(t, e) }
	const partitions = 8
	cfg := js.Config{Partitions: partitions, LeaseTTL: 2 * time.Second}
	s := newStorm()
	pub, err := js.New(context.Background(), connect(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	w1 := startWorker(t, connect(), cfg, "w1", s)
	w2 := startWorker(t, connect(), cfg, "w2", s)
	waitOwnership(t, partitions, 10*time.Second, w1, w2)

	const groups, perGroup = 24, 80
	// Sample ownership all along: no partition may ever be held by two
	// live workers at once.
	var (
		wmu  sync.Mutex
		live = []*worker{w1, w2}
	)
	stopSampling := sampleExclusive(t, func() []*worker { wmu.Lock(); defer wmu.Unlock(); return slices.Clone(live) })
	defer stopSampling()
	var w3 *worker
	acked := publishStorm(t, pub, groups, 0, perGroup, 6, 2*time.Millisecond, func(n int64) {
		if n == groups*perGroup/3 {
			w3 = startWorker(t, connect(), cfg, "w3", s)
			wmu.Lock()
			live = append(live, w3)
			wmu.Unlock()
		}
	})
	waitAll(t, s, int(acked), 30*time.Second, "two then three workers")
	waitOwnership(t, partitions, 10*time.Second, w1, w2, w3)
	s.check(t)

	// Kill w1 mid-storm: its connection drops; its leases are not
	// released, they expire.
	acked += publishStorm(t, pub, groups, perGroup, 2*perGroup, 6, 2*time.Millisecond, func(n int64) {
		if n == groups*perGroup/3 {
			w1.nc.Close()
			// w1 keeps its partitions in its own view until its leases
			// time out locally (LeaseTTL/2), before they expire on the
			// server (LeaseTTL): it stays in the sample.
		}
	})
	waitAll(t, s, int(acked), 30*time.Second, "after a worker was killed")
	waitOwnership(t, partitions, 15*time.Second, w2, w3)
	s.check(t)
}

// sampleExclusive checks every millisecond, until the returned stop is
// called, that no partition is held by two of the workers at once.
func sampleExclusive(t *testing.T, workers func() []*worker) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		samples := 0
		for {
			select {
			case <-done:
				t.Logf("%d ownership samples, no partition held twice", samples)
				return
			case <-time.After(time.Millisecond):
			}
			samples++
			holder := map[int]string{}
			for _, w := range workers() {
				for _, p := range w.owned() {
					if other, ok := holder[p]; ok {
						t.Errorf("partition %d held by %s and %s at once", p, other, w.id)
						return
					}
					holder[p] = w.id
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// TestConformanceEmbeddedPartitioned runs the conformance suite on a topic
// of 4 partitions: publishing, ordering, dead letters and replays go
// through the partition subjects and per-partition consumers.
func TestConformanceEmbeddedPartitioned(t *testing.T) {
	t.Parallel()
	bustest.Run(t, bustest.Features{
		Dedup: true, Restart: true, MaxAge: true, Pause: true, Replay: true, HoldGroup: true,
	}, func(t *testing.T) bustest.Driver {
		e := newEmbedded(t)
		b, err := js.New(context.Background(), e.Conn, js.Config{Partitions: 4})
		if err != nil {
			t.Fatal(err)
		}
		return driver{b}
	})
}

// TestPartitionCountIsFixed: a process configured with another partition
// count than the topic was created with refuses to start, since the
// messages already in the topic are on subjects its consumers would not
// match.
func TestPartitionCountIsFixed(t *testing.T) {
	t.Parallel()
	e := newEmbedded(t)
	ctx := context.Background()
	if _, err := js.New(ctx, e.Conn, js.Config{Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.New(ctx, e.Conn, js.Config{Partitions: 4}); err != nil {
		t.Fatalf("same count again: %v", err)
	}
	for _, n := range []int{0, 1, 8} {
		_, err := js.New(ctx, e.Conn, js.Config{Partitions: n})
		if err == nil || !strings.Contains(err.Error(), "created with 4 partition(s)") {
			t.Fatalf("partitions %d on a 4-partition topic: err %v", n, err)
		}
	}
}

// TestOneSubscriptionNamePerProcess: the same subscription twice in one
// process would hold the same leases twice.
func TestOneSubscriptionNamePerProcess(t *testing.T) {
	t.Parallel()
	e := newEmbedded(t)
	b, err := js.New(context.Background(), e.Conn, js.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := func(context.Context, *bus.Delivery) error { return nil }
	s1, err := b.Subscribe(context.Background(), bus.SubscriptionConfig{Name: "once"}, h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe(context.Background(), bus.SubscriptionConfig{Name: "once"}, h); err == nil {
		t.Fatal("a second subscription of the same name in one process started")
	}
	if err := s1.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	s2, err := b.Subscribe(context.Background(), bus.SubscriptionConfig{Name: "once"}, h)
	if err != nil {
		t.Fatalf("after Stop: %v", err)
	}
	_ = s2.Stop(context.Background())
}

// TestRestartedWorkerTakesBackItsLeases: a worker that crashed and comes
// back under the same id holds its partitions again at once, without
// waiting for its old leases to expire; a worker with another id waits.
func TestRestartedWorkerTakesBackItsLeases(t *testing.T) {
	t.Parallel()
	e := newEmbedded(t)
	connect := func() *nats.Conn { return connectTo(t, e) }
	cfg := js.Config{Partitions: 4, LeaseTTL: time.Minute}
	s := newStorm()
	w := startWorker(t, connect(), cfg, "same", s)
	if got := w.owned(); len(got) != 4 {
		t.Fatalf("a lone worker holds %v, want all 4", got)
	}
	w.nc.Close() // crash: leases stay for a minute
	other := startWorker(t, connect(), cfg, "other", s)
	if got := other.owned(); len(got) != 0 {
		t.Fatalf("another worker took %v while the crashed worker's leases live", got)
	}
	again := startWorker(t, connect(), cfg, "same", s)
	if got := again.owned(); len(got) == 0 {
		t.Fatal("the restarted worker did not take back its leases at once")
	}
}

// TestStandbyTakesNothing: on a single-partition topic a second worker is
// a hot standby: it takes nothing from the live owner (no hand-over, no
// replay from the ack floor), and takes over when the owner stops.
func TestStandbyTakesNothing(t *testing.T) {
	t.Parallel()
	e := newEmbedded(t)
	connect := func() *nats.Conn { return connectTo(t, e) }
	cfg := js.Config{LeaseTTL: 2 * time.Second}
	s := newStorm()
	// Named so that rendezvous hashing alone would move the partition to
	// the standby ("backup" outscores "active" on partition 0).
	active := startWorker(t, connect(), cfg, "active", s)
	standby := startWorker(t, connect(), cfg, "backup", s)
	for range 6 { // three rounds of each
		time.Sleep(250 * time.Millisecond)
		if a, b := active.owned(), standby.owned(); len(a) != 1 || len(b) != 0 {
			t.Fatalf("active holds %v, standby %v: the standby took the partition", a, b)
		}
	}
	if err := active.sub.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(standby.owned()) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the standby did not take over after the owner stopped")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// connectTo opens another in-process connection to e (one per worker
// instance), closed at the end of the test.
func connectTo(t *testing.T, e *js.Embedded) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(e.Server))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
