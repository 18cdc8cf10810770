package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/order"
)

// detail is a full detail of key's order with the given raw status and
// update time (whole seconds: every store keeps them exactly).
func detail(raw string, upd time.Time) order.Detail {
	return order.Detail{
		Status: raw, UpdateTime: upd, CreateTime: t0.Add(-time.Hour), Currency: "MYR",
		Total: order.MustAmount("107.9"), ShippingFee: order.MustAmount("4.9"),
		Items: []order.Item{
			{ItemID: "1001", SKU: "TEE-RED-M", Name: "T-shirt, red, M", Quantity: 2, UnitPrice: "55", PaidPrice: "51.5", Status: raw},
		},
		Buyer:    order.Buyer{ID: "b-42", Username: "a***e"},
		Address:  &order.Address{Name: "A*** Tan", Line: "1 Jalan ****", City: "Kuala Lumpur", Postcode: "50000", Country: "MY"},
		Packages: []order.Package{{ID: "P1", TrackingNo: "MY123", Carrier: "J&T", Status: "LOGISTICS_READY"}},
		// Not the store's clock: whole seconds, like the update time.
		FetchedAt: upd.Add(time.Minute),
	}
}

func setDetail(t *testing.T, s Store, k order.Key, d order.Detail, st order.Status) order.DetailResult {
	t.Helper()
	res, err := s.SetDetail(context.Background(), k, d, st)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// sameJSON fails t unless got and want encode alike.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// testDetailCreatesOrder: a detail of an order no push announced yet
// creates it (with the detail's status); Get returns the detail, List
// leaves it out, and a later Apply keeps it.
func testDetailCreatesOrder(t *testing.T, d Driver) {
	s := open(t, d)
	ctx := context.Background()
	det := detail("READY_TO_SHIP", t0)
	res := setDetail(t, s, key, det, order.StatusReadyToShip)
	if res != (order.DetailResult{Stored: true, StatusChanged: true, Created: true}) {
		t.Fatalf("first detail: %+v", res)
	}
	o := get(t, s)
	if o.Status != order.StatusReadyToShip || o.PlatformStatus != "READY_TO_SHIP" || !o.PlatformUpdateTime.Equal(t0) ||
		o.EventCount != 0 || o.CreatedAt.IsZero() || o.Key() != key {
		t.Fatalf("order created by a detail: %+v", o)
	}
	sameJSON(t, "detail", o.Detail, det)
	if evs, err := s.Events(ctx, key); err != nil || len(evs) != 0 {
		t.Fatalf("history of an order known by its detail only: %v, %v; want empty", evs, err)
	}
	p, err := s.List(ctx, order.Filter{})
	if err != nil || len(p.Orders) != 1 || p.Orders[0].Detail != nil || p.Orders[0].Status != order.StatusReadyToShip {
		t.Fatalf("list: %v %+v; want the order without its detail", err, p.Orders)
	}
	// A push after it: the status moves, the detail stays.
	apply(t, s, ev(1, "a", "SHIPPED", order.StatusShipped, t0.Add(time.Minute)))
	o = get(t, s)
	if o.Status != order.StatusShipped || o.EventCount != 1 || o.Detail == nil {
		t.Fatalf("order after a push: %+v", o)
	}
	sameJSON(t, "detail after a push", o.Detail, det)
	// Another order with a detail that leaves the status alone.
	other := order.Key{Platform: order.Lazada, ShopID: "99", OrderID: "L1"}
	if res := setDetail(t, s, other, detail("pending", t0), ""); !res.Created || !res.Stored || res.StatusChanged {
		t.Fatalf("detail without a status: %+v", res)
	}
	if o, err := s.Get(ctx, other); err != nil || o.Status != "" || o.PlatformStatus != "" || o.Detail == nil {
		t.Fatalf("order created by a detail without status: %+v, %v", o, err)
	}
}

func testDetailNeverMovesBack(t *testing.T, d Driver) {
	openDB := d.NewDatabase(t)
	s := openDB(t)
	newer := detail("SHIPPED", t0.Add(2*time.Minute))
	setDetail(t, s, key, newer, order.StatusShipped)
	older := detail("READY_TO_SHIP", t0.Add(time.Minute))
	older.Packages = nil
	if res := setDetail(t, s, key, older, order.StatusReadyToShip); res.Stored || res.StatusChanged || res.Created {
		t.Fatalf("older detail: %+v, want nothing stored", res)
	}
	o := get(t, s)
	sameJSON(t, "detail after an older one", o.Detail, newer)
	if o.Status != order.StatusShipped {
		t.Fatalf("status %s after an older detail", o.Status)
	}
	// The same instant fetched again (a new FetchedAt) is stored, and the
	// order is not listed as changed.
	again := newer
	again.FetchedAt = newer.FetchedAt.Add(time.Hour)
	if res := setDetail(t, s, key, again, order.StatusShipped); !res.Stored || res.StatusChanged {
		t.Fatalf("same detail fetched again: %+v", res)
	}
	o2 := get(t, s)
	if !o2.UpdatedAt.Equal(o.UpdatedAt) || !o2.Detail.FetchedAt.Equal(again.FetchedAt) {
		t.Fatalf("refetch: updated %v (was %v), fetched %v", o2.UpdatedAt, o.UpdatedAt, o2.Detail.FetchedAt)
	}
	// Across a restart of the store too.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDB(t)
	if res := setDetail(t, s, key, older, order.StatusReadyToShip); res.Stored {
		t.Fatalf("older detail after a restart: %+v", res)
	}
	sameJSON(t, "detail after a restart", get(t, s).Detail, again)
}

// testDetailMovesStatusOnlyWhenNewer: a detail moves the status only when
// it is newer than the status in force (a lost push repaired); a push
// older than that detail is then stale.
func testDetailMovesStatusOnlyWhenNewer(t *testing.T, d Driver) {
	s := open(t, d)
	apply(t, s, ev(1, "a", "READY_TO_SHIP", order.StatusReadyToShip, t0.Add(10*time.Minute)))
	for _, c := range []struct {
		raw string
		st  order.Status
		upd time.Time
	}{
		{"UNPAID", order.StatusUnpaid, t0},                            // older than the push
		{"SHIPPED", order.StatusShipped, t0.Add(10 * time.Minute)},    // the push's instant
		{"SHIPPED", order.StatusShipped, t0.Add(10 * time.Minute)},    // again
		{"IN_CANCEL", order.StatusCancelRequested, t0.Add(time.Hour)}, // newer, but status left alone
	} {
		st := c.st
		if c.raw == "IN_CANCEL" {
			st = ""
		}
		if res := setDetail(t, s, key, detail(c.raw, c.upd), st); !res.Stored || res.StatusChanged {
			t.Fatalf("detail %s at %v: %+v, want stored without a status change", c.raw, c.upd, res)
		}
		if o := get(t, s); o.Status != order.StatusReadyToShip || !o.PlatformUpdateTime.Equal(t0.Add(10*time.Minute)) {
			t.Fatalf("after detail %s at %v: %s at %v", c.raw, c.upd, o.Status, o.PlatformUpdateTime)
		}
	}
	// The SHIPPED push was lost; a newer detail repairs the status.
	if res := setDetail(t, s, key, detail("SHIPPED", t0.Add(2*time.Hour)), order.StatusShipped); !res.Stored || !res.StatusChanged {
		t.Fatalf("newer detail: %+v", res)
	}
	o := get(t, s)
	if o.Status != order.StatusShipped || o.PlatformStatus != "SHIPPED" || !o.PlatformUpdateTime.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("after the newer detail: %+v", o)
	}
	if r := apply(t, s, ev(2, "b", "READY_TO_SHIP", order.StatusReadyToShip, t0.Add(90*time.Minute))); !r.Stale {
		t.Fatalf("push older than the detail's status: %+v, want stale", r)
	}
	if o := get(t, s); o.Status != order.StatusShipped || o.EventCount != 2 {
		t.Fatalf("after a stale push: %+v", o)
	}
}

// testDetailAndApplyConcurrently: pushes and details of one order, from
// two stores on one database at once, in any order: the order ends with
// the newest status and the newest detail, and every push counted.
func testDetailAndApplyConcurrently(t *testing.T, d Driver) {
	openDB := d.NewDatabase(t)
	a, b := openDB(t), openDB(t)
	const n = 30
	statuses := []struct {
		raw string
		st  order.Status
	}{{"UNPAID", order.StatusUnpaid}, {"READY_TO_SHIP", order.StatusReadyToShip}, {"SHIPPED", order.StatusShipped}}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			st := statuses[i%len(statuses)]
			upd := t0.Add(time.Duration(i) * time.Second)
			var err error
			if i%2 == 0 {
				_, err = a.Apply(context.Background(), ev(uint64(i+1), fmt.Sprint("c", i), st.raw, st.st, upd))
			} else {
				_, err = b.SetDetail(context.Background(), key, detail(st.raw, upd), st.st)
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	o := get(t, a)
	last := statuses[(n-1)%len(statuses)]
	newestDetail := t0.Add(time.Duration(n-1) * time.Second) // n-1 is odd: a detail
	if o.Status != last.st || o.PlatformStatus != last.raw || !o.PlatformUpdateTime.Equal(newestDetail) {
		t.Fatalf("order %s (%s) at %v; want %s at %v", o.Status, o.PlatformStatus, o.PlatformUpdateTime, last.st, newestDetail)
	}
	if o.Detail == nil || !o.Detail.UpdateTime.Equal(newestDetail) || o.EventCount != n/2 {
		t.Fatalf("detail %+v, %d events; want the newest detail and %d events", o.Detail, o.EventCount, n/2)
	}
}

// testDetailRejected: a detail a store cannot hold is refused with
// order.ErrRejected, and nothing is written.
func testDetailRejected(t *testing.T, d Driver) {
	s := open(t, d)
	ctx := context.Background()
	big := detail("UNPAID", t0)
	big.Items[0].Name = strings.Repeat("x", order.MaxDetailSize)
	for _, c := range []struct {
		name string
		k    order.Key
		d    order.Detail
		st   order.Status
	}{
		{"larger than MaxDetailSize", key, big, order.StatusUnpaid},
		{"status outside the model", key, detail("UNPAID", t0), "awaiting"},
		{"no order id", order.Key{Platform: order.Shopee, ShopID: "1"}, detail("UNPAID", t0), ""},
	} {
		if _, err := s.SetDetail(ctx, c.k, c.d, c.st); !errors.Is(err, order.ErrRejected) {
			t.Fatalf("%s: %v, want ErrRejected", c.name, err)
		}
	}
	if _, err := s.Get(ctx, key); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("after rejected details: %v, want no order", err)
	}
	s.Close()
	if _, err := s.SetDetail(ctx, key, detail("UNPAID", t0), ""); !errors.Is(err, d.ErrClosed) {
		t.Fatalf("set detail after close: %v", err)
	}
}
