package order

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSetDetail(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 11, 8, 0, 0, 0, time.UTC)
	now := t0.Add(time.Hour)
	k := Key{Platform: Lazada, ShopID: "7", OrderID: "L1"}
	det := func(raw string, upd time.Time) Detail {
		return Detail{Status: raw, UpdateTime: upd, Currency: "SGD", Total: "12.5", FetchedAt: now}
	}
	// pushed is an order whose status came from a push at t0+10m.
	pushed := func() Order {
		return Order{Platform: Lazada, ShopID: "7", OrderID: "L1", Status: StatusReadyToShip, PlatformStatus: "ready_to_ship",
			PlatformUpdateTime: t0.Add(10 * time.Minute), CreatedAt: t0, UpdatedAt: t0, EventCount: 1}
	}
	withDetail := func(d Detail) Order { o := pushed(); o.Detail = &d; return o }
	for _, c := range []struct {
		name       string
		o          Order
		d          Detail
		status     Status
		want       DetailResult
		wantStatus Status
		wantRaw    string
		wantDetail time.Time // UpdateTime of the detail kept
		wantTouch  bool      // UpdatedAt moved to now
	}{
		{"new order, with status", Order{}, det("shipped", t0), StatusShipped,
			DetailResult{Stored: true, StatusChanged: true, Created: true}, StatusShipped, "shipped", t0, true},
		{"new order, status left alone", Order{}, det("shipped", t0), "",
			DetailResult{Stored: true, Created: true}, "", "", t0, true},
		{"newer detail moves the status (lost push repaired)", pushed(), det("shipped", t0.Add(20*time.Minute)), StatusShipped,
			DetailResult{Stored: true, StatusChanged: true}, StatusShipped, "shipped", t0.Add(20 * time.Minute), true},
		{"detail older than the status in force keeps the status", pushed(), det("pending", t0.Add(5*time.Minute)), StatusUnpaid,
			DetailResult{Stored: true}, StatusReadyToShip, "ready_to_ship", t0.Add(5 * time.Minute), true},
		{"detail of the push's instant keeps the push's status", pushed(), det("shipped", t0.Add(10*time.Minute)), StatusShipped,
			DetailResult{Stored: true}, StatusReadyToShip, "ready_to_ship", t0.Add(10 * time.Minute), true},
		{"newer detail without a status leaves the status", pushed(), det("shipped", t0.Add(20*time.Minute)), "",
			DetailResult{Stored: true}, StatusReadyToShip, "ready_to_ship", t0.Add(20 * time.Minute), true},
		{"untimed detail never moves a timed status", pushed(), det("canceled", time.Time{}), StatusCancelled,
			DetailResult{Stored: true}, StatusReadyToShip, "ready_to_ship", time.Time{}, true},
		{"detail older than the stored one is refused", withDetail(det("shipped", t0.Add(30*time.Minute))), det("delivered", t0.Add(20*time.Minute)), StatusDelivered,
			DetailResult{}, StatusReadyToShip, "ready_to_ship", t0.Add(30 * time.Minute), false},
		{"untimed detail over a timed one is refused", withDetail(det("shipped", t0.Add(30*time.Minute))), det("shipped", time.Time{}), "",
			DetailResult{}, StatusReadyToShip, "ready_to_ship", t0.Add(30 * time.Minute), false},
		{"same detail fetched again is stored, the order not touched", withDetail(det("ready_to_ship", t0)), det("ready_to_ship", t0), "",
			DetailResult{Stored: true}, StatusReadyToShip, "ready_to_ship", t0, false},
		{"same instant, new content: stored and touched", withDetail(det("ready_to_ship", t0)), func() Detail {
			d := det("ready_to_ship", t0)
			d.Packages = []Package{{TrackingNo: "T1"}}
			return d
		}(), "", DetailResult{Stored: true}, StatusReadyToShip, "ready_to_ship", t0, true},
		{"order without a status takes an untimed detail's", Order{Platform: Lazada, ShopID: "7", OrderID: "L1", CreatedAt: t0, UpdatedAt: t0},
			det("pending", time.Time{}), StatusUnpaid, DetailResult{Stored: true, StatusChanged: true}, StatusUnpaid, "pending", time.Time{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := c.o
			before := o.PlatformUpdateTime
			got := o.SetDetail(k, c.d, c.status, now)
			if got != c.want {
				t.Fatalf("result %+v, want %+v", got, c.want)
			}
			if o.Key() != k || o.Status != c.wantStatus || o.PlatformStatus != c.wantRaw {
				t.Fatalf("order %+v: want status %q (%q)", o, c.wantStatus, c.wantRaw)
			}
			if o.Detail == nil || !o.Detail.UpdateTime.Equal(c.wantDetail) {
				t.Fatalf("detail kept %+v, want the one of %v", o.Detail, c.wantDetail)
			}
			if got.StatusChanged && !o.PlatformUpdateTime.Equal(c.d.UpdateTime) {
				t.Fatalf("status time %v, want the detail's %v", o.PlatformUpdateTime, c.d.UpdateTime)
			}
			if !got.StatusChanged && c.wantStatus != "" && !o.PlatformUpdateTime.Equal(before) {
				t.Fatalf("status time moved to %v without the status", o.PlatformUpdateTime)
			}
			if touched := o.UpdatedAt.Equal(now); touched != c.wantTouch {
				t.Fatalf("UpdatedAt %v: touched %v, want %v", o.UpdatedAt, touched, c.wantTouch)
			}
			if got.Created && !o.CreatedAt.Equal(now) {
				t.Fatalf("created order's CreatedAt %v", o.CreatedAt)
			}
		})
	}
}

// TestSetDetailCopies: the order keeps its own copy of the detail.
func TestSetDetailCopies(t *testing.T) {
	t.Parallel()
	var o Order
	d := Detail{Status: "UNPAID", Currency: "MYR"}
	o.SetDetail(Key{Shopee, "1", "O1"}, d, "", time.Now())
	d.Currency = "SGD"
	if o.Detail.Currency != "MYR" {
		t.Fatal("the stored detail changed with the caller's value")
	}
}

func TestCheckDetail(t *testing.T) {
	t.Parallel()
	k := Key{Platform: TikTok, ShopID: "7", OrderID: "T1"}
	fetched := time.Date(2026, 11, 11, 8, 0, 0, 0, time.UTC)
	ok := Detail{Status: "AWAITING_SHIPMENT", UpdateTime: fetched.Add(-time.Minute), FetchedAt: fetched, Currency: "USD", Total: "3"}
	b, err := CheckDetail(k, &ok, StatusReadyToShip)
	if err != nil || !strings.Contains(string(b), `"AWAITING_SHIPMENT"`) {
		t.Fatalf("good detail: %s, %v", b, err)
	}
	big := ok
	big.Items = []Item{{SKU: "S", Name: strings.Repeat("x", MaxDetailSize)}}
	future := ok
	future.UpdateTime = fetched.Add(MaxFutureSkew + time.Second)
	for _, c := range []struct {
		name   string
		k      Key
		d      *Detail
		status Status
		want   string
	}{
		{"unknown platform", Key{"amazon", "7", "T1"}, &ok, "", "platform"},
		{"no order id", Key{TikTok, "7", ""}, &ok, "", "no shop or order id"},
		{"status outside the model", k, &ok, "shipping", "not a unified status"},
		{"status without the raw status", k, &Detail{}, StatusShipped, "raw status"},
		{"update time from the future", k, &future, "", "after it was fetched"},
		{"too large", k, &big, "", "at most"},
	} {
		if _, err := CheckDetail(c.k, c.d, c.status); !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrRejected saying %q", c.name, err, c.want)
		}
	}
}
