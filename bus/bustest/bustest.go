// Package bustest is the conformance suite every bus driver must pass.
package bustest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/bus"
)

// Driver is what the suite needs from a bus driver.
type Driver interface {
	Publish(ctx context.Context, m bus.Message) (bus.PublishResult, error)
	Subscribe(ctx context.Context, cfg bus.SubscriptionConfig, h bus.Handler) (bus.Subscription, error)
	// DeadLetters returns the messages dead-lettered by the subscription,
	// with the error text the driver recorded.
	DeadLetters(ctx context.Context, subscription string) ([]DeadLetter, error)
}

// DeadLetter is a dead-lettered message as the suite sees it.
type DeadLetter struct {
	ID       uint64
	Data     []byte
	Group    string
	Error    string
	Reason   string // bus.ReasonPermanent, ...
	Attempts int
}

// Replayer is what a driver with Features.Replay offers besides Driver.
type Replayer interface {
	ReplayDeadLetter(ctx context.Context, id uint64) (bus.ReplayResult, error)
	DiscardDeadLetter(ctx context.Context, id uint64) error
}

// Features declares what a driver guarantees beyond the core; the suite
// skips, by name, the tests of what a driver lacks.
type Features struct {
	// Dedup: Publish drops a repeated ID within the dedup window.
	Dedup bool
	// Restart: a subscription stopped and started again under the same
	// name resumes where it left off.
	Restart bool
	// MaxAge: SubscriptionConfig.MaxAge dead-letters a message that keeps
	// failing once it is older than MaxAge.
	MaxAge bool
	// Pause: a handler error marked bus.Unavailable pauses the
	// subscription without counting attempts or dead-lettering.
	Pause bool
	// Replay: the driver implements Replayer; a replay re-enters the
	// message into its group for its subscription only.
	Replay bool
	// HoldGroup: SubscriptionConfig.HoldOnDeadLetter holds a group behind
	// its dead letter until it is replayed (handled first) or discarded,
	// across restarts when the driver also declares Restart. Needs Replay.
	HoldGroup bool
}

// Run runs the suite. newDriver must return a fresh, isolated driver.
func Run(t *testing.T, f Features, newDriver func(t *testing.T) Driver) {
	t.Run("PublishDedup", func(t *testing.T) {
		if !f.Dedup {
			t.Skip("driver declares no Dedup")
		}
		t.Parallel()
		testDedup(t, newDriver(t))
	})
	t.Run("GroupOrderUnderConcurrency", func(t *testing.T) {
		t.Parallel()
		testGroupOrder(t, newDriver(t))
	})
	t.Run("RetryHoldsOnlyItsGroup", func(t *testing.T) {
		t.Parallel()
		testRetryHoldsGroup(t, newDriver(t))
	})
	t.Run("DeadLetterAfterMaxAttempts", func(t *testing.T) {
		t.Parallel()
		testDeadLetter(t, newDriver(t))
	})
	t.Run("IndependentSubscriptions", func(t *testing.T) {
		t.Parallel()
		testIndependentSubscriptions(t, newDriver(t))
	})
	t.Run("RestartResumesInOrder", func(t *testing.T) {
		if !f.Restart {
			t.Skip("driver declares no Restart")
		}
		t.Parallel()
		testRestart(t, newDriver(t))
	})
	t.Run("ConcurrentStop", func(t *testing.T) {
		t.Parallel()
		testConcurrentStop(t, newDriver(t))
	})
	t.Run("MaxAgeDeadLetters", func(t *testing.T) {
		if !f.MaxAge {
			t.Skip("driver declares no MaxAge")
		}
		t.Parallel()
		testMaxAge(t, newDriver(t))
	})
	t.Run("UnavailablePausesWithoutDeadLetters", func(t *testing.T) {
		if !f.Pause {
			t.Skip("driver declares no Pause")
		}
		t.Parallel()
		testPause(t, newDriver(t))
	})
	t.Run("ReplayOnlyForItsSubscription", func(t *testing.T) {
		if !f.Replay {
			t.Skip("driver declares no Replay")
		}
		t.Parallel()
		testReplay(t, newDriver(t))
	})
	t.Run("HoldGroupUntilReplayedWhile1000GroupsFinish", func(t *testing.T) {
		if !f.HoldGroup || !f.Replay {
			t.Skip("driver declares no HoldGroup or no Replay")
		}
		t.Parallel()
		testHoldUntilReplayed(t, newDriver(t))
	})
	t.Run("HoldGroupUntilDiscarded", func(t *testing.T) {
		if !f.HoldGroup || !f.Replay {
			t.Skip("driver declares no HoldGroup or no Replay")
		}
		t.Parallel()
		testHoldUntilDiscarded(t, newDriver(t))
	})
	t.Run("HoldGroupAcrossRestart", func(t *testing.T) {
		if !f.HoldGroup || !f.Replay || !f.Restart {
			t.Skip("driver declares no HoldGroup, Replay or Restart")
		}
		t.Parallel()
		testHoldAcrossRestart(t, newDriver(t))
	})
}

func fastConfig(name string) bus.SubscriptionConfig {
	return bus.SubscriptionConfig{
		Name: name, Concurrency: 8, MaxAttempts: 4,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 40 * time.Millisecond,
	}
}

func publish(t *testing.T, d Driver, group string, i int) {
	t.Helper()
	_, err := d.Publish(context.Background(), bus.Message{
		ID: group + "#" + strconv.Itoa(i), Subject: "test.order", Group: group, Data: []byte(strconv.Itoa(i)),
	})
	if err != nil {
		t.Fatalf("publish %s#%d: %v", group, i, err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func stop(t *testing.T, s bus.Subscription) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// recorder keeps, per group, the sequence of payload indexes handled
// successfully.
type recorder struct {
	mu     sync.Mutex
	seen   map[string][]int
	total  int
	active map[string]bool
	maxPar int
	par    int
}

func newRecorder() *recorder {
	return &recorder{seen: map[string][]int{}, active: map[string]bool{}}
}

// enter marks the group busy; two handlers of one group at once is a
// violation.
func (r *recorder) enter(t *testing.T, group string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active[group] {
		t.Errorf("group %s handled concurrently", group)
	}
	r.active[group] = true
	r.par++
	r.maxPar = max(r.maxPar, r.par)
}

func (r *recorder) leave(group string, i int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.active, group)
	r.par--
	if ok {
		r.seen[group] = append(r.seen[group], i)
		r.total++
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

func index(t *testing.T, d *bus.Delivery) int {
	i, err := strconv.Atoi(string(d.Data))
	if err != nil {
		t.Errorf("payload %q: %v", d.Data, err)
	}
	return i
}

func testDedup(t *testing.T, d Driver) {
	ctx := context.Background()
	m := bus.Message{ID: "same", Subject: "test.order", Group: "g", Data: []byte("1")}
	first, err := d.Publish(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	second, err := d.Publish(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if first.Duplicate || !second.Duplicate || first.Seq != second.Seq {
		t.Fatalf("dedup: first %+v, second %+v; want the second a duplicate of the first", first, second)
	}
	var n atomic.Int32
	s, err := d.Subscribe(ctx, fastConfig("dedup"), func(ctx context.Context, _ *bus.Delivery) error {
		n.Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, s)
	waitFor(t, "one delivery", 10*time.Second, func() bool { return n.Load() >= 1 })
	publish(t, d, "g", 2) // a later message proves the first was not followed by a copy
	waitFor(t, "second delivery", 10*time.Second, func() bool { return n.Load() >= 2 })
	if got := n.Load(); got != 2 {
		t.Fatalf("handled %d messages, want 2", got)
	}
}

// testGroupOrder publishes many groups' messages interleaved at random from
// several publishers, with a handler that fails at random and takes random
// time, and checks every group saw its messages once, in order.
func testGroupOrder(t *testing.T, d Driver) {
	const groups, perGroup = 60, 25
	rec := newRecorder()
	ctx := context.Background()
	s, err := d.Subscribe(ctx, fastConfig("order"), func(ctx context.Context, dl *bus.Delivery) error {
		rec.enter(t, dl.Group)
		i := index(t, dl)
		if rand.IntN(100) < 2 {
			time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
		}
		fail := dl.Attempt < 3 && rand.IntN(100) < 15 // always succeeds by attempt 3 (< MaxAttempts)
		rec.leave(dl.Group, i, !fail)
		if fail {
			return errors.New("transient")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, s)
	// Each group's messages must be published in order, so each publisher
	// owns a set of groups and interleaves them at random.
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := map[string]int{}
			var mine []string
			for g := p; g < groups; g += 4 {
				mine = append(mine, fmt.Sprintf("shop:%d", g))
			}
			for len(mine) > 0 {
				k := rand.IntN(len(mine))
				g := mine[k]
				publish(t, d, g, next[g])
				next[g]++
				if next[g] == perGroup {
					mine = append(mine[:k], mine[k+1:]...)
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, "all messages", 60*time.Second, func() bool { return rec.count() >= groups*perGroup })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for g, seen := range rec.seen {
		if len(seen) != perGroup {
			t.Errorf("group %s: handled %d messages, want %d: %v", g, len(seen), perGroup, seen)
			continue
		}
		for i, v := range seen {
			if v != i {
				t.Errorf("group %s out of order: %v", g, seen)
				break
			}
		}
	}
	if rec.maxPar < 2 {
		t.Errorf("at most %d groups were handled at once; want parallel groups", rec.maxPar)
	}
}

// testRetryHoldsGroup fails one group's head a few times and checks that its
// next message waits while another group flows.
func testRetryHoldsGroup(t *testing.T, d Driver) {
	rec := newRecorder()
	var attempts atomic.Int32
	release := make(chan struct{})
	cfg := fastConfig("retry")
	cfg.MaxAttempts = 1000 // the head must still be retrying, not dead-lettered, when the test looks
	s, err := d.Subscribe(context.Background(), cfg, func(ctx context.Context, dl *bus.Delivery) error {
		rec.enter(t, dl.Group)
		i := index(t, dl)
		if dl.Group == "slow" && i == 0 {
			attempts.Add(1)
			select {
			case <-release:
			default:
				rec.leave(dl.Group, i, false)
				return errors.New("not yet")
			}
		}
		rec.leave(dl.Group, i, true)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, s)
	publish(t, d, "slow", 0)
	publish(t, d, "slow", 1)
	for i := range 5 {
		publish(t, d, "fast", i)
	}
	waitFor(t, "the fast group", 10*time.Second, func() bool { return rec.count() >= 5 })
	waitFor(t, "a retry of the slow head", 10*time.Second, func() bool { return attempts.Load() >= 2 })
	rec.mu.Lock()
	if got := rec.seen["slow"]; len(got) != 0 {
		t.Errorf("slow group handled %v while its head was failing", got)
	}
	rec.mu.Unlock()
	close(release)
	waitFor(t, "the slow group", 10*time.Second, func() bool { return rec.count() >= 7 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if got := rec.seen["slow"]; len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Errorf("slow group: %v, want [0 1]", got)
	}
}

func testDeadLetter(t *testing.T, d Driver) {
	rec := newRecorder()
	var poisonCalls, permanentCalls atomic.Int32
	cfg := fastConfig("dlq")
	s, err := d.Subscribe(context.Background(), cfg, func(ctx context.Context, dl *bus.Delivery) error {
		rec.enter(t, dl.Group)
		i := index(t, dl)
		switch {
		case dl.Group == "poison" && i == 0:
			poisonCalls.Add(1)
			rec.leave(dl.Group, i, false)
			return errors.New("always fails")
		case dl.Group == "bad" && i == 0:
			permanentCalls.Add(1)
			rec.leave(dl.Group, i, false)
			return bus.Permanent(errors.New("cannot decode"))
		}
		rec.leave(dl.Group, i, true)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, s)
	publish(t, d, "poison", 0)
	publish(t, d, "poison", 1)
	publish(t, d, "bad", 0)
	publish(t, d, "bad", 1)
	waitFor(t, "both groups to move on", 20*time.Second, func() bool { return rec.count() >= 2 })
	if got := poisonCalls.Load(); got != int32(cfg.MaxAttempts) {
		t.Errorf("poison message tried %d times, want MaxAttempts=%d", got, cfg.MaxAttempts)
	}
	if got := permanentCalls.Load(); got != 1 {
		t.Errorf("permanent failure tried %d times, want 1", got)
	}
	var dls []DeadLetter
	waitFor(t, "two dead letters", 10*time.Second, func() bool {
		dls, err = d.DeadLetters(context.Background(), "dlq")
		return err == nil && len(dls) >= 2
	})
	byGroup := map[string]DeadLetter{}
	for _, dl := range dls {
		byGroup[dl.Group] = dl
	}
	if dl := byGroup["poison"]; string(dl.Data) != "0" || dl.Error != "always fails" || dl.Attempts != cfg.MaxAttempts {
		t.Errorf("poison dead letter: %+v", dl)
	}
	if dl := byGroup["bad"]; string(dl.Data) != "0" || dl.Error != "cannot decode" || dl.Attempts != 1 {
		t.Errorf("permanent dead letter: %+v", dl)
	}
	if len(dls) != 2 {
		t.Errorf("%d dead letters, want 2", len(dls))
	}
}

func testIndependentSubscriptions(t *testing.T, d Driver) {
	a, b := newRecorder(), newRecorder()
	sub := func(name string, r *recorder, fail bool) bus.Subscription {
		cfg := fastConfig(name)
		cfg.MaxAttempts = 1000
		s, err := d.Subscribe(context.Background(), cfg, func(ctx context.Context, dl *bus.Delivery) error {
			r.enter(t, dl.Group)
			if fail {
				r.leave(dl.Group, 0, false)
				return errors.New("down")
			}
			r.leave(dl.Group, index(t, dl), true)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sa := sub("alpha", a, false)
	defer stop(t, sa)
	sb := sub("beta", b, true) // a subscription that never succeeds
	defer stop(t, sb)
	for i := range 10 {
		publish(t, d, fmt.Sprintf("g%d", i%3), i)
	}
	waitFor(t, "alpha to see everything while beta fails", 10*time.Second, func() bool { return a.count() >= 10 })
}

func testRestart(t *testing.T, d Driver) {
	const groups, perGroup = 20, 20
	var (
		mu   sync.Mutex
		seen = map[string][]int{}
	)
	handler := func() bus.Handler {
		return func(ctx context.Context, dl *bus.Delivery) error {
			mu.Lock()
			seen[dl.Group] = append(seen[dl.Group], index(t, dl))
			mu.Unlock()
			return nil
		}
	}
	s1, err := d.Subscribe(context.Background(), fastConfig("restart"), handler())
	if err != nil {
		t.Fatal(err)
	}
	for i := range perGroup / 2 {
		for g := range groups {
			publish(t, d, fmt.Sprintf("g%d", g), i)
		}
	}
	waitFor(t, "some progress", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0
	})
	stop(t, s1)
	for i := perGroup / 2; i < perGroup; i++ {
		for g := range groups {
			publish(t, d, fmt.Sprintf("g%d", g), i)
		}
	}
	s2, err := d.Subscribe(context.Background(), fastConfig("restart"), handler())
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, s2)
	done := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for g := range groups {
			s := seen[fmt.Sprintf("g%d", g)]
			if len(s) == 0 || s[len(s)-1] != perGroup-1 {
				return false
			}
		}
		return true
	}
	waitFor(t, "every group's last message", 30*time.Second, done)
	mu.Lock()
	defer mu.Unlock()
	// At least once: a restart may replay a suffix of a group, in order; an
	// idempotent handler that skips what it has seen sees every message once,
	// in order.
	for g, s := range seen {
		last := -1
		for _, v := range s {
			switch {
			case v == last+1:
				last = v
			case v <= last:
				// replayed
			default:
				t.Errorf("group %s skipped from %d to %d: %v", g, last, v, s)
			}
		}
		if last != perGroup-1 {
			t.Errorf("group %s ended at %d: %v", g, last, s)
		}
	}
}

func testConcurrentStop(t *testing.T, d Driver) {
	var n atomic.Int32
	s, err := d.Subscribe(context.Background(), fastConfig("stop"), func(ctx context.Context, dl *bus.Delivery) error {
		n.Add(1)
		time.Sleep(time.Millisecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		publish(t, d, fmt.Sprintf("g%d", i%5), i)
	}
	waitFor(t, "some deliveries", 10*time.Second, func() bool { return n.Load() > 0 })
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); stop(t, s) }()
	}
	wg.Wait()
	after := n.Load()
	time.Sleep(50 * time.Millisecond) // a stopped subscription must stay silent; nothing to wait on
	if got := n.Load(); got != after {
		t.Errorf("handler ran %d times after Stop returned", got-after)
	}
}
