package bustest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/bus"
)

// The failure-handling cases: max age, pausing on an unavailable
// dependency, replay, and strict mode (HoldOnDeadLetter).

func replayer(t *testing.T, d Driver) Replayer {
	t.Helper()
	r, ok := d.(Replayer)
	if !ok {
		t.Fatalf("driver %T declares Replay but does not implement bustest.Replayer", d)
	}
	return r
}

// seen returns a copy of the indexes group handled successfully.
func (r *recorder) seenOf(group string) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen[group])
}

func waitDeadLetters(t *testing.T, d Driver, sub string, n int) []DeadLetter {
	t.Helper()
	var (
		dls []DeadLetter
		err error
	)
	waitFor(t, fmt.Sprintf("%d dead letter(s) of %s", n, sub), 20*time.Second, func() bool {
		dls, err = d.DeadLetters(context.Background(), sub)
		return err == nil && len(dls) == n
	})
	return dls
}

func equal(got []int, want ...int) bool { return slices.Equal(got, want) }

// testMaxAge: a message that keeps failing with a retryable error is
// dead-lettered once older than MaxAge, long before MaxAttempts.
func testMaxAge(t *testing.T, d Driver) {
	rec := newRecorder()
	var calls atomic.Int32
	cfg := fastConfig("maxage")
	cfg.MaxAttempts = 1000
	cfg.BackoffMin, cfg.BackoffMax = 10*time.Millisecond, 20*time.Millisecond
	cfg.MaxAge = 300 * time.Millisecond
	s, err := d.Subscribe(context.Background(), cfg, func(ctx context.Context, dl *bus.Delivery) error {
		rec.enter(t, dl.Group)
		i := index(t, dl)
		if dl.Group == "stale" && i == 0 {
			calls.Add(1)
			rec.leave(dl.Group, i, false)
			return errors.New("still failing")
		}
		rec.leave(dl.Group, i, true)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, s)
	publish(t, d, "stale", 0)
	publish(t, d, "stale", 1)
	publish(t, d, "fresh", 0)
	waitFor(t, "the stale group to move on", 20*time.Second, func() bool { return equal(rec.seenOf("stale"), 1) })
	dls := waitDeadLetters(t, d, "maxage", 1)
	dl := dls[0]
	if dl.Reason != bus.ReasonMaxAge || dl.Error != "still failing" || string(dl.Data) != "0" {
		t.Errorf("dead letter %+v, want reason %s for payload 0", dl, bus.ReasonMaxAge)
	}
	if n := int(calls.Load()); dl.Attempts != n || n < 2 || n >= cfg.MaxAttempts {
		t.Errorf("dead letter after %d attempts (%d calls); want it retried, then dead-lettered by age well before %d attempts",
			dl.Attempts, n, cfg.MaxAttempts)
	}
}

// testPause: while a dependency is down (the handler returns
// bus.Unavailable) the subscription pauses: one probe per pause instead of
// every group burning attempts, no attempt counted, nothing dead-lettered
// even with MaxAttempts 2, and everything handled in order once it is back.
func testPause(t *testing.T, d Driver) {
	const groups, perGroup = 20, 5
	rec := newRecorder()
	var down atomic.Bool
	down.Store(true)
	var downCalls, laterAttempts atomic.Int32
	cfg := fastConfig("pause")
	cfg.MaxAttempts = 2
	cfg.PauseMax = 50 * time.Millisecond
	s, err := d.Subscribe(context.Background(), cfg, func(ctx context.Context, dl *bus.Delivery) error {
		rec.enter(t, dl.Group)
		i := index(t, dl)
		if down.Load() {
			downCalls.Add(1)
			rec.leave(dl.Group, i, false)
			return bus.Unavailable(errors.New("store locked"))
		}
		if dl.Attempt != 1 {
			laterAttempts.Add(1)
		}
		rec.leave(dl.Group, i, true)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, s)
	for i := range perGroup {
		for g := range groups {
			publish(t, d, fmt.Sprintf("g%d", g), i)
		}
	}
	ctx := context.Background()
	waitFor(t, "the subscription to pause", 10*time.Second, func() bool { return s.Stats(ctx).Paused })
	// Several pause-probe cycles, each much longer than a handler call.
	waitFor(t, "probes during the outage", 10*time.Second, func() bool { return downCalls.Load() >= 3*int32(cfg.Concurrency) })
	down.Store(false)
	waitFor(t, "every message after the outage", 30*time.Second, func() bool { return rec.count() >= groups*perGroup })
	st := s.Stats(ctx)
	// Each pause lets one probe through; beyond those, only the calls
	// already started when the outage began (at most one per worker).
	if n := downCalls.Load(); uint64(n) > st.Pauses+uint64(cfg.Concurrency) {
		t.Errorf("%d handler calls during the outage for %d pauses: the subscription did not pause", n, st.Pauses)
	}
	if st.OutageRetries != uint64(downCalls.Load()) || st.Pauses < 2 || st.DeadLettered != 0 || st.Paused {
		t.Errorf("stats after the outage: %+v (outage calls %d)", st, downCalls.Load())
	}
	if n := laterAttempts.Load(); n != 0 {
		t.Errorf("%d deliveries after the outage had Attempt > 1: outage calls were counted", n)
	}
	if dls, err := d.DeadLetters(ctx, "pause"); err != nil || len(dls) != 0 {
		t.Errorf("dead letters after an outage: %v, %v; want none", dls, err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for g, seen := range rec.seen {
		if !equal(seen, 0, 1, 2, 3, 4) {
			t.Errorf("group %s: %v, want [0 1 2 3 4]", g, seen)
		}
	}
}

// testReplay: a replay is handled once, by the subscription that
// dead-lettered the message only, under its original ID; a second replay
// right after appends nothing; the dead letter is gone once the replay is
// handled. Without strict mode the group moved on, so the replay comes
// after the messages that overtook it.
func testReplay(t *testing.T, d Driver) {
	ctx := context.Background()
	alpha, beta := newRecorder(), newRecorder()
	var broken atomic.Bool
	broken.Store(true)
	var replayIDs []string
	sub := func(name string, r *recorder, fails bool) bus.Subscription {
		s, err := d.Subscribe(ctx, fastConfig(name), func(ctx context.Context, dl *bus.Delivery) error {
			r.enter(t, dl.Group)
			i := index(t, dl)
			if fails && i == 0 {
				if broken.Load() {
					r.leave(dl.Group, i, false)
					return bus.Permanent(errors.New("rejected"))
				}
				replayIDs = append(replayIDs, dl.ID) // one group: no concurrent calls
			}
			r.leave(dl.Group, i, true)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sa := sub("alpha", alpha, true)
	defer stop(t, sa)
	sb := sub("beta", beta, false)
	defer stop(t, sb)
	for i := range 3 {
		publish(t, d, "g", i)
	}
	waitFor(t, "both subscriptions", 10*time.Second, func() bool {
		return equal(alpha.seenOf("g"), 1, 2) && equal(beta.seenOf("g"), 0, 1, 2)
	})
	dls := waitDeadLetters(t, d, "alpha", 1)
	broken.Store(false)
	r := replayer(t, d)
	if _, err := r.ReplayDeadLetter(ctx, dls[0].ID); err != nil {
		t.Fatal(err)
	}
	if res, err := r.ReplayDeadLetter(ctx, dls[0].ID); !errors.Is(err, bus.ErrDeadLetterNotFound) && (err != nil || !res.Duplicate) {
		t.Errorf("second replay: %+v, %v; want a duplicate (or not found, once handled)", res, err)
	}
	waitFor(t, "the replay", 10*time.Second, func() bool { return equal(alpha.seenOf("g"), 1, 2, 0) })
	waitDeadLetters(t, d, "alpha", 0)
	publish(t, d, "g", 3) // behind the replay in the topic
	waitFor(t, "the next message", 10*time.Second, func() bool {
		return equal(alpha.seenOf("g"), 1, 2, 0, 3) && equal(beta.seenOf("g"), 0, 1, 2, 3)
	})
	if !equal(beta.seenOf("g"), 0, 1, 2, 3) {
		t.Errorf("beta saw %v; the replay was for alpha only", beta.seenOf("g"))
	}
	if !slices.Equal(replayIDs, []string{"g#0"}) {
		t.Errorf("replay handled with IDs %q, want once with the original ID g#0", replayIDs)
	}
}

// testHoldUntilReplayed is the poison-isolation case: in strict mode a
// poison message is dead-lettered while 1,000 other groups finish; its
// group's later messages wait; the replay, once the handler is fixed, is
// handled first and the rest follow in order.
func testHoldUntilReplayed(t *testing.T, d Driver) {
	const groups = 1000
	ctx := context.Background()
	rec := newRecorder()
	var broken atomic.Bool
	broken.Store(true)
	cfg := fastConfig("hold")
	cfg.HoldOnDeadLetter = true
	s, err := d.Subscribe(ctx, cfg, func(ctx context.Context, dl *bus.Delivery) error {
		rec.enter(t, dl.Group)
		i := index(t, dl)
		if dl.Group == "poison" && i == 0 && broken.Load() {
			rec.leave(dl.Group, i, false)
			return bus.Permanent(errors.New("rejected"))
		}
		rec.leave(dl.Group, i, true)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, s)
	for i := range 3 {
		publish(t, d, "poison", i)
	}
	for i := range 2 {
		for g := range groups {
			publish(t, d, fmt.Sprintf("g%d", g), i)
		}
	}
	waitFor(t, "the other groups", 60*time.Second, func() bool { return rec.count() >= 2*groups })
	dls := waitDeadLetters(t, d, "hold", 1)
	if dls[0].Group != "poison" || string(dls[0].Data) != "0" || dls[0].Reason != bus.ReasonPermanent {
		t.Fatalf("dead letter %+v, want poison#0, permanent", dls[0])
	}
	if got := rec.seenOf("poison"); len(got) != 0 {
		t.Fatalf("poison group handled %v while its dead letter was unresolved", got)
	}
	waitFor(t, "stats: one group held with its 2 later messages", 10*time.Second, func() bool {
		st := s.Stats(ctx)
		return st.Blocked == 1 && st.Held == 2
	})
	broken.Store(false)
	if _, err := replayer(t, d).ReplayDeadLetter(ctx, dls[0].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the poison group, in order", 20*time.Second, func() bool { return len(rec.seenOf("poison")) >= 3 })
	if got := rec.seenOf("poison"); !equal(got, 0, 1, 2) {
		t.Errorf("poison group: %v, want [0 1 2]", got)
	}
	waitDeadLetters(t, d, "hold", 0)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for g, seen := range rec.seen {
		if g != "poison" && !equal(seen, 0, 1) {
			t.Errorf("group %s: %v, want [0 1]", g, seen)
		}
	}
}

// testHoldUntilDiscarded: in strict mode, discarding the dead letter lets
// its group go on without it.
func testHoldUntilDiscarded(t *testing.T, d Driver) {
	ctx := context.Background()
	rec := newRecorder()
	cfg := fastConfig("discard")
	cfg.HoldOnDeadLetter = true
	s, err := d.Subscribe(ctx, cfg, func(ctx context.Context, dl *bus.Delivery) error {
		rec.enter(t, dl.Group)
		i := index(t, dl)
		if dl.Group == "poison" && i == 0 {
			rec.leave(dl.Group, i, false)
			return bus.Permanent(errors.New("rejected"))
		}
		rec.leave(dl.Group, i, true)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, s)
	for i := range 3 {
		publish(t, d, "poison", i)
	}
	publish(t, d, "other", 0)
	dls := waitDeadLetters(t, d, "discard", 1)
	waitFor(t, "the other group", 10*time.Second, func() bool { return equal(rec.seenOf("other"), 0) })
	if got := rec.seenOf("poison"); len(got) != 0 {
		t.Fatalf("poison group handled %v while its dead letter was unresolved", got)
	}
	if err := replayer(t, d).DiscardDeadLetter(ctx, dls[0].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the poison group without its discarded head", 20*time.Second, func() bool {
		return equal(rec.seenOf("poison"), 1, 2)
	})
	if err := replayer(t, d).DiscardDeadLetter(ctx, dls[0].ID); !errors.Is(err, bus.ErrDeadLetterNotFound) {
		t.Errorf("second discard: %v, want ErrDeadLetterNotFound", err)
	}
}

// testHoldAcrossRestart: a group held in strict mode stays held when the
// subscription restarts, and the replay still runs first.
func testHoldAcrossRestart(t *testing.T, d Driver) {
	ctx := context.Background()
	rec := newRecorder()
	var broken atomic.Bool
	broken.Store(true)
	cfg := fastConfig("holdrestart")
	cfg.HoldOnDeadLetter = true
	handler := func(ctx context.Context, dl *bus.Delivery) error {
		rec.enter(t, dl.Group)
		i := index(t, dl)
		if dl.Group == "poison" && i == 0 && broken.Load() {
			rec.leave(dl.Group, i, false)
			return bus.Permanent(errors.New("rejected"))
		}
		rec.leave(dl.Group, i, true)
		return nil
	}
	s1, err := d.Subscribe(ctx, cfg, handler)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, d, "poison", 0)
	publish(t, d, "poison", 1)
	publish(t, d, "other", 0)
	dls := waitDeadLetters(t, d, "holdrestart", 1)
	waitFor(t, "the other group", 10*time.Second, func() bool { return equal(rec.seenOf("other"), 0) })
	stop(t, s1)
	publish(t, d, "poison", 2)
	publish(t, d, "other", 1)
	s2, err := d.Subscribe(ctx, cfg, handler)
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, s2)
	// At least once: the restart may hand other#0 over again.
	waitFor(t, "the other group after the restart", 10*time.Second, func() bool {
		got := rec.seenOf("other")
		return len(got) > 0 && got[len(got)-1] == 1
	})
	if got := rec.seenOf("poison"); len(got) != 0 {
		t.Fatalf("poison group handled %v after the restart while its dead letter was unresolved", got)
	}
	if st := s2.Stats(ctx); st.Redeliveries == 0 || st.Blocked != 1 {
		t.Errorf("stats after the restart: %+v; want the held messages counted as redeliveries, one group blocked", st)
	}
	broken.Store(false)
	if _, err := replayer(t, d).ReplayDeadLetter(ctx, dls[0].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the poison group", 20*time.Second, func() bool { return len(rec.seenOf("poison")) >= 3 })
	if got := rec.seenOf("poison"); !equal(got, 0, 1, 2) {
		t.Errorf("poison group: %v, want [0 1 2]", got)
	}
}
