package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/store/sqlite"
)

func open(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "o.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)

func ev(seq uint64, key, raw string, st order.Status, upd time.Time) *order.Event {
	return &order.Event{
		Platform: order.Shopee, ShopID: "336094210", OrderID: "251214B9XAB0ST",
		Kind: order.KindStatus, PushType: "3", PlatformStatus: raw, Status: st,
		UpdateTime: upd, Key: key, ReceivedAt: t0, Payload: []byte(`{}`), Seq: seq,
	}
}

var key = order.Key{Platform: order.Shopee, ShopID: "336094210", OrderID: "251214B9XAB0ST"}

func apply(t *testing.T, s *sqlite.Store, e *order.Event) order.ApplyResult {
	t.Helper()
	res, err := s.Apply(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func get(t *testing.T, s *sqlite.Store) order.Order {
	t.Helper()
	o, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestApplyMovesStatusForward(t *testing.T) {
	t.Parallel()
	s := open(t)
	if _, err := s.Get(context.Background(), key); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("get before any event: %v, want ErrNotFound", err)
	}
	r := apply(t, s, ev(1, "a", "UNPAID", order.StatusUnpaid, t0))
	if r.Outcome != order.Applied || !r.StatusChanged {
		t.Fatalf("first event: %+v", r)
	}
	apply(t, s, ev(2, "b", "READY_TO_SHIP", order.StatusReadyToShip, t0.Add(time.Minute)))
	o := get(t, s)
	if o.Status != order.StatusReadyToShip || o.PlatformStatus != "READY_TO_SHIP" || o.LastSeq != 2 || o.EventCount != 2 {
		t.Fatalf("order: %+v", o)
	}
	if !o.PlatformUpdateTime.Equal(t0.Add(time.Minute)) {
		t.Fatalf("platform update time %v", o.PlatformUpdateTime)
	}
}

func TestApplyIsIdempotent(t *testing.T) {
	t.Parallel()
	s := open(t)
	apply(t, s, ev(1, "a", "UNPAID", order.StatusUnpaid, t0))
	// The same event redelivered (same seq), and the same push appended
	// again after the broker's dedup window (new seq, same key).
	if r := apply(t, s, ev(1, "a", "UNPAID", order.StatusUnpaid, t0)); r.Outcome != order.Duplicate {
		t.Fatalf("redelivery: %+v", r)
	}
	apply(t, s, ev(2, "b", "READY_TO_SHIP", order.StatusReadyToShip, t0.Add(time.Minute)))
	if r := apply(t, s, ev(3, "a", "UNPAID", order.StatusUnpaid, t0)); r.Outcome != order.Duplicate {
		t.Fatalf("same key, new seq: %+v", r)
	}
	o := get(t, s)
	if o.EventCount != 2 || o.Status != order.StatusReadyToShip {
		t.Fatalf("order after duplicates: %+v", o)
	}
	evs, err := s.Events(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Key != "a" || evs[1].Key != "b" {
		t.Fatalf("history: %+v", evs)
	}
}

// TestRestartedSequencesLoseNothing: a topic recreated from scratch numbers
// its events from 1 again; a new push must still be applied.
func TestRestartedSequencesLoseNothing(t *testing.T) {
	t.Parallel()
	s := open(t)
	apply(t, s, ev(500, "a", "UNPAID", order.StatusUnpaid, t0))
	if r := apply(t, s, ev(1, "new", "READY_TO_SHIP", order.StatusReadyToShip, t0.Add(time.Minute))); r.Outcome != order.Applied {
		t.Fatalf("new event with a lower sequence: %+v", r)
	}
	if o := get(t, s); o.Status != order.StatusReadyToShip || o.EventCount != 2 {
		t.Fatalf("order: %+v", o)
	}
	ctx := context.Background()
	for _, e := range []*order.Event{ev(1, "x", "", "", t0), ev(1, "x", "", "", t0), ev(1, "y", "", "", t0)} {
		if err := s.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.AuditCount(ctx); err != nil || n != 2 {
		t.Fatalf("audit count %d (%v): want the redelivery dropped and the new event with a reused sequence kept", n, err)
	}
}

func TestOutOfOrderNeverMovesStatusBack(t *testing.T) {
	t.Parallel()
	s := open(t)
	apply(t, s, ev(1, "shipped", "SHIPPED", order.StatusShipped, t0.Add(2*time.Minute)))
	r := apply(t, s, ev(2, "rts", "READY_TO_SHIP", order.StatusReadyToShip, t0.Add(time.Minute)))
	if !r.Stale || r.StatusChanged || r.Outcome != order.Applied {
		t.Fatalf("older event: %+v, want stale and kept", r)
	}
	// An event without a status (tracking) joins the history only.
	tr := ev(3, "track", "", "", time.Time{})
	tr.Kind = order.KindTracking
	apply(t, s, tr)
	o := get(t, s)
	if o.Status != order.StatusShipped || o.EventCount != 3 {
		t.Fatalf("order: %+v", o)
	}
	evs, _ := s.Events(context.Background(), key)
	if len(evs) != 3 || !evs[1].Stale || evs[0].Stale {
		t.Fatalf("history: %+v", evs)
	}
}

func TestUnknownStatusKeptRaw(t *testing.T) {
	t.Parallel()
	s := open(t)
	apply(t, s, ev(1, "a", "INVOICE_PENDING", order.StatusUnknown, t0))
	if o := get(t, s); o.Status != order.StatusUnknown || o.PlatformStatus != "INVOICE_PENDING" {
		t.Fatalf("order: %+v", o)
	}
}

func TestListPagesByUpdate(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	for i := range 25 {
		e := ev(uint64(i+1), fmt.Sprint("k", i), "UNPAID", order.StatusUnpaid, t0)
		e.OrderID = fmt.Sprintf("O%03d", i)
		if i%5 == 0 {
			e.Platform, e.ShopID = order.Lazada, "99"
		}
		apply(t, s, e)
	}
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		p, err := s.List(ctx, order.Filter{Platform: order.Shopee, Limit: 7, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range p.Orders {
			if o.Platform != order.Shopee || seen[o.OrderID] {
				t.Fatalf("unexpected or repeated order %+v", o)
			}
			seen[o.OrderID] = true
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if len(seen) != 20 || pages != 3 {
		t.Fatalf("listed %d shopee orders in %d pages, want 20 in 3", len(seen), pages)
	}
	p, err := s.List(ctx, order.Filter{Status: order.StatusShipped})
	if err != nil || len(p.Orders) != 0 {
		t.Fatalf("status filter: %v %+v", err, p)
	}
	p, err = s.List(ctx, order.Filter{UpdatedSince: time.Now().Add(time.Hour)})
	if err != nil || len(p.Orders) != 0 {
		t.Fatalf("updated_since filter: %v %+v", err, p)
	}
	if _, err := s.List(ctx, order.Filter{Cursor: "not-a-cursor"}); !errors.Is(err, order.ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}

// TestConcurrentAppliesShareCommits: many writers at once (group commit),
// every apply lands exactly once.
func TestConcurrentAppliesShareCommits(t *testing.T) {
	t.Parallel()
	s := open(t)
	const orders, perOrder = 50, 8
	var wg sync.WaitGroup
	for o := range orders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perOrder {
				e := ev(uint64(o*perOrder+i+1), fmt.Sprintf("o%d-%d", o, i), "UNPAID", order.StatusUnpaid, t0.Add(time.Duration(i)*time.Second))
				e.OrderID = fmt.Sprint("C", o)
				if _, err := s.Apply(context.Background(), e); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	p, err := s.List(context.Background(), order.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Orders) != orders {
		t.Fatalf("%d orders, want %d", len(p.Orders), orders)
	}
	for _, o := range p.Orders {
		if o.EventCount != perOrder {
			t.Fatalf("order %s has %d events, want %d", o.OrderID, o.EventCount, perOrder)
		}
	}
}

func TestAuditAppendIsIdempotent(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	e := ev(7, "a", "UNPAID", order.StatusUnpaid, t0)
	for range 2 {
		if err := s.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.AuditCount(ctx)
	if err != nil || n != 1 {
		t.Fatalf("audit count %d (%v), want 1", n, err)
	}
}

func TestClosedStoreRefusesWrites(t *testing.T) {
	t.Parallel()
	s := open(t)
	s.Close()
	if _, err := s.Apply(context.Background(), ev(1, "a", "UNPAID", order.StatusUnpaid, t0)); !errors.Is(err, sqlite.ErrClosed) {
		t.Fatalf("apply after close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
