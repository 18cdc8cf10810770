package sandbox_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
)

// A fast clock: a sale of hours plays in tens of milliseconds, and
// TikTok's 12 h retry waits 432 ms.
const fast = 100_000

// TestDeliverConverges sends a sale of all three marketplaces with
// duplicates, reordering and tracking-first pushes to a receiver that
// verifies every signature with the real verifiers and folds the parsed
// events by orderlane's status rule: every push arrives, and the folded
// orders match the ground truth.
func TestDeliverConverges(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fast, sandbox.Spec{Orders: 90, Span: 20 * time.Minute}, 1)
	rep := s.deliver(t, sandbox.DeliveryOptions{Duplicates: 0.1, Reorder: 0.2, TrackingFirst: 0.5})
	if len(rep.Truth) != 90 {
		t.Fatalf("truth of %d orders, want 90", len(rep.Truth))
	}
	if ms := sandbox.Compare(rep.Truth, s.recv.got()); len(ms) > 0 {
		t.Fatalf("%d mismatches, first %v", len(ms), ms[0])
	}
	got := map[order.Platform]int{}
	for _, a := range s.recv.all() {
		got[a.p]++
	}
	for _, p := range order.Platforms {
		pr := rep.Platform(p)
		if pr.Pushes == 0 || pr.Sent != pr.Pushes || pr.Delivered != pr.Sent+pr.Duplicates ||
			pr.Attempts != pr.Delivered || pr.Failed != 0 || pr.GaveUp != 0 || pr.SuccessRate != 1 || pr.Disabled {
			t.Errorf("%s: %+v", p, pr)
		}
		if got[p] != pr.Attempts {
			t.Errorf("%s: receiver got %d requests, report says %d attempts", p, got[p], pr.Attempts)
		}
	}
	// The sale now holds the final state the fakes' APIs serve.
	for _, e := range rep.Truth {
		o, ok := s.sale.Truth(e.Key)
		if !ok || o.Status != e.PlatformStatus {
			t.Fatalf("%v: sale holds %q, truth %q", e.Key, o.Status, e.PlatformStatus)
		}
	}
}

// TestDeliverReorder: held pushes arrive after a later push of their
// order, at the set ratio; with TrackingFirst 1 every status push followed
// by a tracking push arrives after it.
func TestDeliverReorder(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fast, sandbox.Spec{Orders: 150, Span: 20 * time.Minute}, 2)
	rep := s.deliver(t, sandbox.DeliveryOptions{Reorder: 0.3, TrackingFirst: 1})
	// Inversions seen by the receiver: a push from an earlier step of its
	// order arriving after one from a later step. Without duplicates or
	// losses each held push is exactly one.
	inversions := map[order.Platform]int{}
	latest := map[order.Key]int{}
	trackingSeen := map[order.Key]bool{}
	for _, a := range s.recv.all() {
		k := order.Key{Platform: a.p, ShopID: a.ev.ShopID, OrderID: a.ev.OrderID}
		step := s.stubs[a.p].stepOf([]byte(a.body))
		if step < latest[k] {
			inversions[a.p]++
		}
		latest[k] = max(latest[k], step)
		if a.ev.Kind == order.KindTracking || a.ev.Kind == order.KindPackage {
			trackingSeen[k] = true
		}
		if a.ev.PlatformStatus == "PROCESSED" || a.ev.PlatformStatus == "AWAITING_SHIPMENT" {
			if !trackingSeen[k] && a.p == order.Shopee {
				t.Errorf("%v: PROCESSED arrived before its tracking push", k)
			}
		}
	}
	for _, p := range order.Platforms {
		pr := rep.Platform(p)
		if held := pr.Reordered + pr.TrackingFirst; inversions[p] != held {
			t.Errorf("%s: receiver saw %d inversions, report held %d", p, inversions[p], held)
		}
		if r := float64(pr.Reordered) / float64(pr.Pushes); r < 0.3*0.6 || r > 0.3*1.1 {
			t.Errorf("%s: %d of %d pushes reordered (%.2f), want about 0.3 of those with a successor", p, pr.Reordered, pr.Pushes, r)
		}
		if p != order.Lazada && pr.TrackingFirst == 0 {
			t.Errorf("%s: no tracking-first push", p)
		}
	}
	if ms := sandbox.Compare(rep.Truth, s.recv.got()); len(ms) > 0 {
		t.Fatalf("reordering broke convergence: %d mismatches, first %v", len(ms), ms[0])
	}
}

// TestDeliverDuplicatesAndLost: duplicates resend the same bytes, lost
// pushes never arrive and go to the lost-push API where there is one.
func TestDeliverDuplicatesAndLost(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fast, sandbox.Spec{Orders: 150, Span: 20 * time.Minute}, 3)
	s.market[order.TikTok] = noLose{s.stubs[order.TikTok]} // no lost-push API
	rep := s.deliver(t, sandbox.DeliveryOptions{Duplicates: 0.2, Lost: 0.1})
	arrived := map[string]int{}
	for _, a := range s.recv.all() {
		arrived[a.body]++
	}
	for _, p := range order.Platforms {
		pr := rep.Platform(p)
		lost := s.stubs[p].lostPushes()
		want := pr.Lost
		if p == order.TikTok {
			want = 0
		}
		if len(lost) != want {
			t.Errorf("%s: %d pushes handed to Lose, want %d", p, len(lost), want)
		}
		for _, l := range lost {
			if arrived[string(l.Body)] > 0 {
				t.Errorf("%s: lost push arrived: %s", p, l.Body)
			}
		}
		if r := float64(pr.Lost) / float64(pr.Pushes); r < 0.06 || r > 0.14 {
			t.Errorf("%s: %d of %d lost (%.2f), want about 0.1", p, pr.Lost, pr.Pushes, r)
		}
		if r := float64(pr.Duplicates) / float64(pr.Sent); r < 0.15 || r > 0.25 {
			t.Errorf("%s: %d of %d duplicated (%.2f), want about 0.2", p, pr.Duplicates, pr.Sent, r)
		}
		if pr.Sent != pr.Pushes-pr.Lost || pr.Delivered != pr.Sent+pr.Duplicates {
			t.Errorf("%s: %+v", p, pr)
		}
	}
	twice, once := 0, 0
	for _, n := range arrived {
		switch n {
		case 1:
			once++
		case 2:
			twice++
		default:
			t.Errorf("a push arrived %d times", n)
		}
	}
	dups := 0
	for _, pr := range rep.Platforms {
		dups += pr.Duplicates
	}
	if twice != dups {
		t.Errorf("%d pushes arrived twice, report says %d duplicates", twice, dups)
	}
}

// TestDeliverRetrySchedule: a receiver that always fails gets each push
// on each marketplace's schedule (scaled), then never again; Lazada would
// disable it. Not parallel: it measures gaps, on a slower clock than the
// others so that the receiver keeps up even under the race detector.
func TestDeliverRetrySchedule(t *testing.T) {
	s := newSetup(t, 20_000, sandbox.Spec{Orders: 6, Span: 10 * time.Minute, MaxGap: 5 * time.Minute}, 4)
	s.recv.answer = func(order.Platform, order.Event, int) (int, time.Duration) {
		return http.StatusServiceUnavailable, 0
	}
	rep := s.deliver(t, sandbox.DeliveryOptions{})
	times := map[string][]time.Time{}
	plat := map[string]order.Platform{}
	for _, a := range s.recv.all() {
		times[a.body] = append(times[a.body], a.at)
		plat[a.body] = a.p
	}
	for body, ts := range times {
		p := plat[body]
		sched := sandbox.DefaultPolicy(p).Retries
		if len(ts) != len(sched)+1 {
			t.Errorf("%s push tried %d times, want %d", p, len(ts), len(sched)+1)
			continue
		}
		for i := 1; i < len(ts); i++ {
			gap, want := ts[i].Sub(ts[i-1]), s.clock.Wall(sched[i-1])
			if gap < want-time.Millisecond || gap > want+500*time.Millisecond {
				t.Errorf("%s retry %d after %s, want %s (%s simulated)", p, i, gap, want, sched[i-1])
			}
		}
	}
	for _, p := range order.Platforms {
		pr := rep.Platform(p)
		n := len(sandbox.DefaultPolicy(p).Retries)
		if pr.GaveUp != pr.Sent || pr.Retries != n*pr.Sent || pr.Attempts != (n+1)*pr.Sent || pr.Delivered != 0 || pr.SuccessRate != 0 {
			t.Errorf("%s: %+v", p, pr)
		}
		if pr.Disabled != (p == order.Lazada) {
			t.Errorf("%s: disabled %v (Lazada disables above 50%% failures; Shopee needs 600 pushes in 6 h)", p, pr.Disabled)
		}
	}
}

// TestDeliverDeadline: a slow 200 is a failure for Lazada (500 ms) but
// not for TikTok (3 s); the failed push is retried and then delivered.
// Not parallel: it depends on answer times.
func TestDeliverDeadline(t *testing.T) {
	s := newSetup(t, fast, sandbox.Spec{Orders: 6, Platforms: []order.Platform{order.Lazada, order.TikTok}}, 5)
	first := map[order.Key]bool{}
	slow := map[string]bool{}
	s.recv.answer = func(p order.Platform, ev order.Event, n int) (int, time.Duration) {
		s.recv.mu.Lock()
		defer s.recv.mu.Unlock()
		k := order.Key{Platform: p, ShopID: ev.ShopID, OrderID: ev.OrderID}
		if n == 1 && !first[k] { // the order's first push: answer slowly
			first[k] = true
			slow[ev.Key] = true
			return http.StatusOK, 700 * time.Millisecond
		}
		return http.StatusOK, 0
	}
	rep := s.deliver(t, sandbox.DeliveryOptions{})
	lz, tt := rep.Platform(order.Lazada), rep.Platform(order.TikTok)
	if lz.Failed != 3 || lz.Retries != 3 || lz.GaveUp != 0 || lz.Delivered != lz.Sent {
		t.Errorf("lazada: %+v, want the 3 slow answers failed and retried", lz)
	}
	if tt.Failed != 0 || tt.Retries != 0 || tt.Delivered != tt.Sent {
		t.Errorf("tiktok: %+v, want the slow answers accepted", tt)
	}
	if ms := sandbox.Compare(rep.Truth, s.recv.got()); len(ms) > 0 {
		t.Fatalf("%d mismatches, first %v", len(ms), ms[0])
	}
}

// TestDeliverAppliesChangesAndHonoursVisibleAt plays a real-time sale of
// one lagging order: when its first push arrives, the API does not return
// the order yet, though the ground truth has it. Cancelling stops the run.
func TestDeliverAppliesChangesAndHonoursVisibleAt(t *testing.T) {
	t.Parallel()
	s := newSetup(t, 1, sandbox.Spec{Orders: 1, Platforms: []order.Platform{order.Shopee}, LagRatio: 1, Span: time.Second}, 6)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type view struct{ api, truth bool }
	seen := make(chan view, 1)
	s.recv.answer = func(p order.Platform, ev order.Event, n int) (int, time.Duration) {
		k := order.Key{Platform: p, ShopID: ev.ShopID, OrderID: ev.OrderID}
		_, api := s.sale.Order(k)
		_, truth := s.sale.Truth(k)
		select {
		case seen <- view{api, truth}:
			cancel()
		default:
		}
		return http.StatusOK, 0
	}
	done := make(chan error, 1)
	go func() {
		_, err := sandbox.Deliver(ctx, s.script, s.market, s.recv.url, sandbox.DeliveryOptions{Clock: s.clock})
		done <- err
	}()
	v := <-seen
	if v.api || !v.truth {
		t.Errorf("at the first push: API finds the order %v (want false), truth %v (want true)", v.api, v.truth)
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Deliver after cancel: %v, want context.Canceled", err)
	}
}

func TestDeliverRejectsBadOptions(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fast, sandbox.Spec{Orders: 1}, 7)
	ctx := context.Background()
	for name, o := range map[string]sandbox.DeliveryOptions{
		"no clock": {},
		"ratio":    {Clock: s.clock, Lost: 1.5},
		"nan":      {Clock: s.clock, Duplicates: nan()},
	} {
		if _, err := sandbox.Deliver(ctx, s.script, s.market, s.recv.url, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	bad := func(order.Platform) string { return "ftp://x" }
	if _, err := sandbox.Deliver(ctx, s.script, s.market, bad, sandbox.DeliveryOptions{Clock: s.clock}); err == nil {
		t.Error("ftp target: no error")
	}
}

func nan() float64 { z := 0.0; return z / z }
