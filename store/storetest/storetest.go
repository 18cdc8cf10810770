// Package storetest is the conformance suite every order store passes
// (store/sqlite, store/postgres): the order.Repository,
// order.DetailRepository, audit.Log and shop.Store guarantees, checked the
// same way on each driver.
//
// A driver's test calls Run with a Driver that can make a fresh, empty
// database for one test and open stores on it:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Driver{NewDatabase: ..., ErrClosed: sqlite.ErrClosed})
//	}
//
// and RunShops with a ShopDriver for the shop store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/order"
)

// Store is what a driver's store offers: the repository, the audit log and
// their housekeeping.
type Store interface {
	order.Repository
	order.DetailRepository
	// Append is audit.Log's.
	Append(ctx context.Context, e *order.Event) error
	// AuditCount returns how many events the audit log holds.
	AuditCount(ctx context.Context) (int, error)
	// Close stops the store; writes after it fail with Driver.ErrClosed.
	// Safe to call more than once.
	Close() error
}

// Driver tells the suite how to get stores.
type Driver struct {
	// NewDatabase makes a fresh, empty database for one test (cleaned up
	// with t.Cleanup) and returns a function that opens a store on it. The
	// suite calls open more than once per database to check what another
	// process or a restart sees; every store open returns is closed by the
	// driver at cleanup too (Close is idempotent). Required.
	NewDatabase func(t *testing.T) (open func(t *testing.T) Store)
	// ErrClosed is the driver's error for a write after Close. Required.
	ErrClosed error
}

// Run runs the whole suite; each case is a parallel subtest on its own
// database.
func Run(t *testing.T, d Driver) {
	t.Helper()
	for _, c := range []struct {
		name string
		fn   func(*testing.T, Driver)
	}{
		{"ApplyMovesStatusForward", testApplyMovesStatusForward},
		{"ApplyIsIdempotent", testApplyIsIdempotent},
		{"RestartedSequencesLoseNothing", testRestartedSequencesLoseNothing},
		{"OutOfOrderNeverMovesStatusBack", testOutOfOrderNeverMovesStatusBack},
		{"UnknownStatusKeptRaw", testUnknownStatusKeptRaw},
		{"HistoryKeepsEveryField", testHistoryKeepsEveryField},
		{"ApplyRejectsNonOrderEvents", testApplyRejectsNonOrderEvents},
		{"EventsOfUnknownOrder", testEventsOfUnknownOrder},
		{"ListPagesByUpdate", testListPagesByUpdate},
		{"ListShowsAnOrderChangedDuringTheWalkAgain", testListChangedDuringWalk},
		{"ConcurrentAppliesShareCommits", testConcurrentAppliesShareCommits},
		{"TwoStoresOnOneDatabaseFoldOneOrderSerially", testTwoStoresOneOrder},
		{"ReopenKeepsOrdersAndKeys", testReopenKeepsOrdersAndKeys},
		{"AuditAppendIsIdempotent", testAuditAppendIsIdempotent},
		{"PingAndClosedStoreRefusesWrites", testClosedStoreRefusesWrites},
		{"DetailCreatesOrder", testDetailCreatesOrder},
		{"DetailNeverMovesBack", testDetailNeverMovesBack},
		{"DetailMovesStatusOnlyWhenNewer", testDetailMovesStatusOnlyWhenNewer},
		{"DetailAndApplyConcurrentlyKeepTheNewest", testDetailAndApplyConcurrently},
		{"DetailRejected", testDetailRejected},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, d)
		})
	}
}

// open makes a fresh database and opens one store on it.
func open(t *testing.T, d Driver) Store {
	t.Helper()
	return d.NewDatabase(t)(t)
}

var t0 = time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)

var key = order.Key{Platform: order.Shopee, ShopID: "336094210", OrderID: "251214B9XAB0ST"}

func ev(seq uint64, key, raw string, st order.Status, upd time.Time) *order.Event {
	return &order.Event{
		Platform: order.Shopee, ShopID: "336094210", OrderID: "251214B9XAB0ST",
		Kind: order.KindStatus, PushType: "3", PlatformStatus: raw, Status: st,
		UpdateTime: upd, Key: key, ReceivedAt: t0, Payload: []byte(`{}`), Seq: seq,
	}
}

func apply(t *testing.T, s Store, e *order.Event) order.ApplyResult {
	t.Helper()
	res, err := s.Apply(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func get(t *testing.T, s Store) order.Order {
	t.Helper()
	o, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func testApplyMovesStatusForward(t *testing.T, d Driver) {
	s := open(t, d)
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
	if o.Key() != key || o.CreatedAt.IsZero() || o.UpdatedAt.Before(o.CreatedAt) {
		t.Fatalf("identity and times: %+v", o)
	}
}

func testApplyIsIdempotent(t *testing.T, d Driver) {
	s := open(t, d)
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

// testRestartedSequencesLoseNothing: a topic recreated from scratch numbers
// its events from 1 again; a new push must still be applied.
func testRestartedSequencesLoseNothing(t *testing.T, d Driver) {
	s := open(t, d)
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

func testOutOfOrderNeverMovesStatusBack(t *testing.T, d Driver) {
	s := open(t, d)
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
	// A status event without a time never overrides a timed status.
	if r := apply(t, s, ev(4, "untimed", "CANCELLED", order.StatusCancelled, time.Time{})); !r.Stale {
		t.Fatalf("untimed status over a timed one: %+v, want stale", r)
	}
	if o := get(t, s); o.Status != order.StatusShipped {
		t.Fatalf("status after an untimed event: %s", o.Status)
	}
}

func testUnknownStatusKeptRaw(t *testing.T, d Driver) {
	s := open(t, d)
	apply(t, s, ev(1, "a", "INVOICE_PENDING", order.StatusUnknown, t0))
	if o := get(t, s); o.Status != order.StatusUnknown || o.PlatformStatus != "INVOICE_PENDING" {
		t.Fatalf("order: %+v", o)
	}
}

// testHistoryKeepsEveryField: what Events returns is what was applied,
// field by field, zero times included.
func testHistoryKeepsEveryField(t *testing.T, d Driver) {
	s := open(t, d)
	first := ev(41, "k1", "SHIPPED", order.StatusShipped, t0.Add(time.Hour))
	first.ReceivedAt = t0.Add(90 * time.Minute)
	apply(t, s, first)
	older := ev(42, "k2", "READY_TO_SHIP", order.StatusReadyToShip, t0.Add(time.Minute))
	older.PushType = "4"
	apply(t, s, older)
	doc := ev(43, "k3", "", "", time.Time{})
	doc.Kind, doc.PushType = order.KindDocument, "15"
	apply(t, s, doc)
	evs, err := s.Events(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("history: %+v", evs)
	}
	want := []order.EventRecord{
		{Seq: 41, Key: "k1", Kind: order.KindStatus, PushType: "3", PlatformStatus: "SHIPPED", Status: order.StatusShipped,
			UpdateTime: t0.Add(time.Hour), ReceivedAt: t0.Add(90 * time.Minute), StatusChanged: true},
		{Seq: 42, Key: "k2", Kind: order.KindStatus, PushType: "4", PlatformStatus: "READY_TO_SHIP", Status: order.StatusReadyToShip,
			UpdateTime: t0.Add(time.Minute), ReceivedAt: t0, Stale: true},
		{Seq: 43, Key: "k3", Kind: order.KindDocument, PushType: "15", ReceivedAt: t0},
	}
	for i, w := range want {
		g := evs[i]
		if g.AppliedAt.IsZero() {
			t.Fatalf("event %d: no applied time", i)
		}
		w.AppliedAt = g.AppliedAt
		if g.Seq != w.Seq || g.Key != w.Key || g.Kind != w.Kind || g.PushType != w.PushType ||
			g.PlatformStatus != w.PlatformStatus || g.Status != w.Status || !g.UpdateTime.Equal(w.UpdateTime) ||
			g.UpdateTime.IsZero() != w.UpdateTime.IsZero() || !g.ReceivedAt.Equal(w.ReceivedAt) ||
			g.StatusChanged != w.StatusChanged || g.Stale != w.Stale {
			t.Fatalf("event %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	o := get(t, s)
	if !o.PlatformUpdateTime.Equal(t0.Add(time.Hour)) || o.LastSeq != 43 || o.EventCount != 3 {
		t.Fatalf("order: %+v", o)
	}
}

func testApplyRejectsNonOrderEvents(t *testing.T, d Driver) {
	s := open(t, d)
	notice := ev(1, "n", "", "", time.Time{})
	notice.Kind, notice.OrderID = order.KindNotice, ""
	if _, err := s.Apply(context.Background(), notice); err == nil {
		t.Fatal("a notice was applied to an order")
	}
	noOrder := ev(2, "o", "UNPAID", order.StatusUnpaid, t0)
	noOrder.OrderID = ""
	if _, err := s.Apply(context.Background(), noOrder); err == nil {
		t.Fatal("an event without an order id was applied")
	}
	if p, err := s.List(context.Background(), order.Filter{}); err != nil || len(p.Orders) != 0 {
		t.Fatalf("orders after rejected events: %v %+v", err, p)
	}
}

func testEventsOfUnknownOrder(t *testing.T, d Driver) {
	s := open(t, d)
	if _, err := s.Events(context.Background(), key); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("events of an unknown order: %v, want ErrNotFound", err)
	}
}

func testListPagesByUpdate(t *testing.T, d Driver) {
	s := open(t, d)
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
	var last order.Order
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
			if o.UpdatedAt.Before(last.UpdatedAt) {
				t.Fatalf("order %s updated %v listed after one updated %v", o.OrderID, o.UpdatedAt, last.UpdatedAt)
			}
			seen[o.OrderID], last = true, o
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
	p, err = s.List(ctx, order.Filter{Platform: order.Lazada, ShopID: "99", Status: order.StatusUnpaid, UpdatedSince: t0})
	if err != nil || len(p.Orders) != 5 || p.NextCursor != "" {
		t.Fatalf("platform+shop+status+since filter: %v %d orders, cursor %q", err, len(p.Orders), p.NextCursor)
	}
	if _, err := s.List(ctx, order.Filter{Cursor: "not-a-cursor"}); !errors.Is(err, order.ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}

// testListChangedDuringWalk: the list is ordered by last change, so an
// order changed while a client pages through shows up again at the end.
func testListChangedDuringWalk(t *testing.T, d Driver) {
	s := open(t, d)
	ctx := context.Background()
	for i := range 4 {
		e := ev(uint64(i+1), fmt.Sprint("k", i), "UNPAID", order.StatusUnpaid, t0)
		e.OrderID = fmt.Sprintf("W%d", i)
		apply(t, s, e)
	}
	p, err := s.List(ctx, order.Filter{Limit: 2})
	if err != nil || len(p.Orders) != 2 || p.NextCursor == "" {
		t.Fatalf("first page: %v %+v", err, p)
	}
	changed := p.Orders[0].OrderID
	e := ev(10, "again", "READY_TO_SHIP", order.StatusReadyToShip, t0.Add(time.Minute))
	e.OrderID = changed
	apply(t, s, e)
	var rest []string
	for cur := p.NextCursor; cur != ""; {
		p, err := s.List(ctx, order.Filter{Limit: 2, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range p.Orders {
			rest = append(rest, o.OrderID)
		}
		cur = p.NextCursor
	}
	if len(rest) != 3 || rest[2] != changed {
		t.Fatalf("rest of the walk %v: want the 2 unseen orders, then %s again", rest, changed)
	}
}

// testConcurrentAppliesShareCommits: many writers at once (group commit),
// every apply lands exactly once.
func testConcurrentAppliesShareCommits(t *testing.T, d Driver) {
	s := open(t, d)
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

// testTwoStoresOneOrder: two stores on one database (two worker processes
// during a hand-over) apply different events of the same orders at once,
// and some of the same events. Every distinct key is applied exactly once, and
// each order's count and history agree: the fold never loses an update.
func testTwoStoresOneOrder(t *testing.T, d Driver) {
	openDB := d.NewDatabase(t)
	a, b := openDB(t), openDB(t)
	const orders, perOrder = 4, 40
	var wg sync.WaitGroup
	for n, s := range []Store{a, b} {
		for o := range orders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perOrder {
					// Each store applies its half of the keys, and both
					// every fifth key (one of them must see a duplicate).
					if i%2 != n && i%5 != 0 {
						continue
					}
					e := ev(uint64(i+1), fmt.Sprintf("t%d-%d", o, i), "UNPAID", order.StatusUnpaid, t0.Add(time.Duration(i)*time.Second))
					e.OrderID = fmt.Sprint("T", o)
					if _, err := s.Apply(context.Background(), e); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	for o := range orders {
		k := order.Key{Platform: order.Shopee, ShopID: "336094210", OrderID: fmt.Sprint("T", o)}
		got, err := a.Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := b.Events(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		if got.EventCount != perOrder || len(evs) != perOrder || got.LastSeq != perOrder {
			t.Fatalf("order %s: count %d, history %d, last seq %d; want %d each", k.OrderID, got.EventCount, len(evs), got.LastSeq, perOrder)
		}
		if !got.PlatformUpdateTime.Equal(t0.Add(time.Duration(perOrder-1) * time.Second)) {
			t.Fatalf("order %s: status time %v, want the newest event's", k.OrderID, got.PlatformUpdateTime)
		}
	}
}

// testReopenKeepsOrdersAndKeys: after a restart the orders are there and
// a key applied before is still a duplicate.
func testReopenKeepsOrdersAndKeys(t *testing.T, d Driver) {
	openDB := d.NewDatabase(t)
	s := openDB(t)
	apply(t, s, ev(1, "a", "UNPAID", order.StatusUnpaid, t0))
	if err := s.Append(context.Background(), ev(1, "a", "UNPAID", order.StatusUnpaid, t0)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDB(t)
	if r := apply(t, s, ev(1, "a", "UNPAID", order.StatusUnpaid, t0)); r.Outcome != order.Duplicate {
		t.Fatalf("key applied before the restart: %+v", r)
	}
	if err := s.Append(context.Background(), ev(1, "a", "UNPAID", order.StatusUnpaid, t0)); err != nil {
		t.Fatal(err)
	}
	if o := get(t, s); o.Status != order.StatusUnpaid || o.EventCount != 1 {
		t.Fatalf("order after restart: %+v", o)
	}
	if n, err := s.AuditCount(context.Background()); err != nil || n != 1 {
		t.Fatalf("audit count after restart %d (%v), want 1", n, err)
	}
}

func testAuditAppendIsIdempotent(t *testing.T, d Driver) {
	s := open(t, d)
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
	// A notice (no order) is recorded too.
	notice := ev(8, "n", "", "", time.Time{})
	notice.Kind, notice.OrderID, notice.Payload = order.KindNotice, "", nil
	if err := s.Append(ctx, notice); err != nil {
		t.Fatal(err)
	}
	if n, err := s.AuditCount(ctx); err != nil || n != 2 {
		t.Fatalf("audit count with a notice %d (%v), want 2", n, err)
	}
}

func testClosedStoreRefusesWrites(t *testing.T, d Driver) {
	s := open(t, d)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	s.Close()
	if _, err := s.Apply(context.Background(), ev(1, "a", "UNPAID", order.StatusUnpaid, t0)); !errors.Is(err, d.ErrClosed) {
		t.Fatalf("apply after close: %v", err)
	}
	if err := s.Append(context.Background(), ev(1, "a", "UNPAID", order.StatusUnpaid, t0)); !errors.Is(err, d.ErrClosed) {
		t.Fatalf("audit append after close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
