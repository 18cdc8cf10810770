package sandbox_test

import (
	"math/big"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
)

func generate(t *testing.T, spec sandbox.Spec, seed uint64) *sandbox.Script {
	t.Helper()
	start := time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)
	sale := sandbox.NewSale(func() time.Time { return start })
	return sandbox.Generate(sale, spec, rand.New(rand.NewPCG(seed, 7)))
}

// Allowed transitions of each marketplace's order-level status.
var transitions = map[order.Platform]map[string][]string{
	order.Shopee: {
		"":                   {"UNPAID"},
		"UNPAID":             {"READY_TO_SHIP", "CANCELLED"},
		"READY_TO_SHIP":      {"PROCESSED", "IN_CANCEL"},
		"IN_CANCEL":          {"CANCELLED"},
		"PROCESSED":          {"SHIPPED"},
		"SHIPPED":            {"TO_CONFIRM_RECEIVE"},
		"TO_CONFIRM_RECEIVE": {"COMPLETED"},
	},
	order.Lazada: {
		"":              {"unpaid"},
		"unpaid":        {"pending", "canceled"},
		"pending":       {"packed", "canceled"},
		"packed":        {"ready_to_ship"},
		"ready_to_ship": {"shipped"},
		"shipped":       {"delivered"},
		"delivered":     {"returned"},
	},
	order.TikTok: {
		"":                    {"UNPAID"},
		"UNPAID":              {"AWAITING_SHIPMENT", "CANCELLED"},
		"AWAITING_SHIPMENT":   {"AWAITING_COLLECTION", "CANCELLED"},
		"AWAITING_COLLECTION": {"IN_TRANSIT"},
		"IN_TRANSIT":          {"DELIVERED"},
		"DELIVERED":           {"COMPLETED"},
	},
}

var finals = map[order.Platform][]string{
	order.Shopee: {"COMPLETED", "CANCELLED"},
	order.Lazada: {"delivered", "canceled", "returned"},
	order.TikTok: {"COMPLETED", "CANCELLED"},
}

func TestGenerateInvariants(t *testing.T) {
	t.Parallel()
	s := generate(t, sandbox.Spec{Orders: 600, ShopsPerPlatform: 3}, 42)
	type state struct {
		last     time.Time
		status   string
		steps    int
		tracking bool
	}
	orders := map[order.Key]*state{}
	kinds := map[order.Kind]int{}
	var prev time.Time
	for i, st := range s.Steps {
		o := st.Change.Order
		k := order.Key{Platform: o.Platform, ShopID: o.ShopID, OrderID: o.OrderID}
		if st.At.Before(prev) {
			t.Fatalf("step %d at %s before the previous step", i, st.At)
		}
		prev = st.At
		if st.At.Nanosecond() != 0 || !o.UpdateTime.Equal(st.At) {
			t.Fatalf("step %d of %v: at %s, update time %s: want equal whole seconds", i, k, st.At, o.UpdateTime)
		}
		ost := orders[k]
		if ost == nil {
			ost = &state{}
			orders[k] = ost
			if !o.CreateTime.Equal(st.At) || o.VisibleAt.Before(o.CreateTime) {
				t.Errorf("%v: first change at %s, created %s, visible %s", k, st.At, o.CreateTime, o.VisibleAt)
			}
		} else if !st.At.After(ost.last) {
			t.Fatalf("%v: update time %s not after %s", k, st.At, ost.last)
		}
		ost.last = st.At
		ost.steps++
		kinds[st.Change.Kind]++
		if o.Status != ost.status {
			if !slices.Contains(transitions[o.Platform][ost.status], o.Status) {
				t.Errorf("%v: transition %q -> %q", k, ost.status, o.Status)
			}
			if st.Change.Kind != order.KindStatus {
				t.Errorf("%v: status moved by a %s change", k, st.Change.Kind)
			}
			ost.status = o.Status
		}
		switch st.Change.Kind {
		case order.KindTracking, order.KindPackage:
			if len(o.Packages) != 1 || o.Packages[0].TrackingNo == "" {
				t.Errorf("%v: %s change without a tracking number", k, st.Change.Kind)
			}
			ost.tracking = true
		case order.KindCancellation, order.KindReturn:
			if st.Change.Reverse == nil || st.Change.Reverse.Status == "" || len(st.Change.Reverse.LineIDs) == 0 {
				t.Errorf("%v: %s change without a reverse order", k, st.Change.Kind)
			}
		}
		if o.Platform == order.Lazada {
			var lines []string
			for _, u := range o.Units {
				lines = append(lines, u.Status)
			}
			if want := lazada.OrderStatus(lines); o.Status != want {
				t.Errorf("%v: status %q, lines say %q", k, o.Status, want)
			}
			if len(st.Change.LineIDs) == 0 {
				t.Errorf("%v: Lazada %s change names no line", k, st.Change.Kind)
			}
		}
		// Shipping needs a tracking number first.
		if (o.Status == "SHIPPED" || o.Status == "AWAITING_COLLECTION" || o.Status == "shipped") && !ost.tracking && o.Platform != order.Lazada {
			t.Errorf("%v: %s before its tracking number", k, o.Status)
		}
	}
	if len(orders) != 600 {
		t.Fatalf("%d orders, want 600", len(orders))
	}
	for _, k := range []order.Kind{order.KindStatus, order.KindTracking, order.KindPackage, order.KindCancellation, order.KindReturn} {
		if kinds[k] == 0 {
			t.Errorf("no %s change in 600 orders", k)
		}
	}

	s.Apply()
	lagged := 0
	for _, o := range s.Sale.Orders() {
		k := order.Key{Platform: o.Platform, ShopID: o.ShopID, OrderID: o.OrderID}
		if !slices.Contains(finals[o.Platform], o.Status) {
			t.Errorf("%v ends in %q, not a final status", k, o.Status)
		}
		if sandbox.MapStatus(o.Platform, o.Status) == order.StatusUnknown {
			t.Errorf("%v: final %q maps to unknown", k, o.Status)
		}
		if o.VisibleAt.After(o.CreateTime) {
			lagged++
		}
		checkUnits(t, k, &o)
	}
	if lagged < 30 || lagged > 100 {
		t.Errorf("%d of 600 orders lag their first push, want about 60", lagged)
	}
	for _, p := range order.Platforms {
		shops := s.Sale.Shops(p)
		if len(shops) != 3 {
			t.Fatalf("%s: %d shops, want 3", p, len(shops))
		}
		for _, sh := range shops {
			if sh.Region == "" || (p == order.TikTok && (sh.Cipher == "" || sh.Cipher == sh.ShopID)) {
				t.Errorf("%s shop %+v: want a region (and a TikTok cipher distinct from the id)", p, sh)
			}
		}
		if app, ok := s.Sale.App(p); !ok || app.Secret == "" {
			t.Errorf("%s: no app", p)
		}
	}
}

// checkUnits checks an order's lines: 1-4 SKUs of 1-3 units, exact prices
// with the currency's decimals, a total equal to the paid prices plus
// shipping.
func checkUnits(t *testing.T, k order.Key, o *sandbox.Order) {
	t.Helper()
	items := o.Items()
	if len(items) < 1 || len(items) > 4 {
		t.Errorf("%v: %d SKUs", k, len(items))
	}
	sum := new(big.Rat)
	for _, it := range items {
		if it.Quantity < 1 || it.Quantity > 3 {
			t.Errorf("%v: %d units of %s", k, it.Quantity, it.SKU)
		}
		if it.PaidPrice.Cmp(it.UnitPrice) > 0 || it.PaidPrice.Cmp("0") <= 0 {
			t.Errorf("%v: %s paid %s of %s", k, it.SKU, it.PaidPrice, it.UnitPrice)
		}
	}
	for _, u := range o.Units {
		if c, err := order.ParseAmount(string(u.PaidPrice)); err != nil || c != u.PaidPrice {
			t.Errorf("%v: paid price %q not canonical", k, u.PaidPrice)
		}
		if (o.Currency == "VND" || o.Currency == "IDR") && u.PaidPrice.Rat().IsInt() == false {
			t.Errorf("%v: %s price %s has decimals", k, o.Currency, u.PaidPrice)
		}
		r, _ := new(big.Rat).SetString(string(u.PaidPrice))
		sum.Add(sum, r)
	}
	ship, _ := new(big.Rat).SetString(string(o.ShippingFee))
	sum.Add(sum, ship)
	if o.Total().Rat().Cmp(sum) != 0 {
		t.Errorf("%v: total %s, paid prices plus shipping %s", k, o.Total(), sum.FloatString(2))
	}
	if o.Currency == "" || o.Buyer.ID == "" || o.Address.Country == "" || o.Address.Line == "" {
		t.Errorf("%v: currency, buyer or address missing: %+v %+v", k, o.Buyer, o.Address)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	a := generate(t, sandbox.Spec{Orders: 50}, 9)
	b := generate(t, sandbox.Spec{Orders: 50}, 9)
	c := generate(t, sandbox.Spec{Orders: 50}, 10)
	if !reflect.DeepEqual(a.Steps, b.Steps) {
		t.Fatal("same seed, different scripts")
	}
	if reflect.DeepEqual(a.Steps, c.Steps) {
		t.Fatal("different seeds, same script")
	}
}

func TestGenerateSpecDefaultsAndLimits(t *testing.T) {
	t.Parallel()
	s := generate(t, sandbox.Spec{Orders: 4, Platforms: []order.Platform{order.Lazada, "ebay"}, CancelRatio: -1, ReturnRatio: -1}, 1)
	keys := map[string]bool{}
	for _, st := range s.Steps {
		o := st.Change.Order
		if o.Platform != order.Lazada {
			t.Fatalf("order of %s, want only lazada", o.Platform)
		}
		if st.Change.Kind != order.KindStatus {
			t.Errorf("%s change with cancellations and returns off", st.Change.Kind)
		}
		keys[o.OrderID] = true
	}
	if len(keys) != 4 {
		t.Errorf("%d orders, want 4", len(keys))
	}
	if !s.End.After(s.Start) || s.End.Sub(s.Start) > 5*time.Hour {
		t.Errorf("script from %s to %s", s.Start, s.End)
	}
}
