package sandbox

import (
	"fmt"
	"slices"
	"strings"

	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
)

// ExpectedOrder is what orderlane must end up with for one order of the
// sale: the ground truth in the unified model.
type ExpectedOrder struct {
	Key order.Key `json:"key"`
	// PlatformStatus is the final raw status in the marketplace's API
	// vocabulary (TikTok: CANCELLED, which its webhook spells CANCEL; Lazada:
	// derived from the lines by lazada.OrderStatus), and Status its unified
	// mapping by the marketplace package's MapStatus.
	PlatformStatus string       `json:"platform_status"`
	Status         order.Status `json:"status"`
	Currency       string       `json:"currency"`
	// Total is the units' paid prices plus shipping.
	Total order.Amount `json:"total"`
	// Items are the units aggregated by SKU (Order.Items).
	Items []order.Item `json:"items"`
	// TrackingNos are the packages' tracking numbers, sorted.
	TrackingNos []string `json:"tracking_nos,omitempty"`
}

// MapStatus maps a raw status of p onto the unified model with that
// marketplace's own MapStatus.
func MapStatus(p order.Platform, raw string) order.Status {
	switch p {
	case order.Shopee:
		return shopee.MapStatus(raw)
	case order.Lazada:
		return lazada.MapStatus(raw)
	case order.TikTok:
		return tiktok.MapStatus(raw)
	}
	return order.StatusUnknown
}

// Expected returns the ground truth of every order in the sale, sorted by
// key.
func Expected(sale *Sale) []ExpectedOrder {
	orders := sale.Orders()
	out := make([]ExpectedOrder, 0, len(orders))
	for i := range orders {
		o := &orders[i]
		e := ExpectedOrder{
			Key:            order.Key{Platform: o.Platform, ShopID: o.ShopID, OrderID: o.OrderID},
			PlatformStatus: o.Status, Status: MapStatus(o.Platform, o.Status),
			Currency: o.Currency, Total: o.Total(), Items: o.Items(),
		}
		e.TrackingNos = trackingNos(o.Packages)
		out = append(out, e)
	}
	return out
}

func trackingNos(pkgs []order.Package) []string {
	var out []string
	for _, p := range pkgs {
		if p.TrackingNo != "" {
			out = append(out, p.TrackingNo)
		}
	}
	slices.Sort(out)
	return out
}

// Mismatch is one way orderlane's order differs from the ground truth.
type Mismatch struct {
	Key order.Key `json:"key"`
	// Field is "order" (missing or unexpected), "status", or a detail
	// field: "detail.currency", "detail.total", "detail.items",
	// "detail.tracking_nos".
	Field string `json:"field"`
	Want  string `json:"want"`
	Got   string `json:"got"`
}

func (m Mismatch) String() string {
	return fmt.Sprintf("%s:%s:%s %s: want %q, got %q", m.Key.Platform, m.Key.ShopID, m.Key.OrderID, m.Field, m.Want, m.Got)
}

// Compare reports how got (orderlane's orders) differs from expected:
// orders missing or extra, the unified status of each, and, only for an
// order whose Detail is set, its currency, total, items (SKU, quantity,
// unit and paid price; order ignored) and tracking numbers. An empty
// result means orderlane converged.
func Compare(expected []ExpectedOrder, got []order.Order) []Mismatch {
	byKey := make(map[order.Key]*order.Order, len(got))
	for i := range got {
		byKey[got[i].Key()] = &got[i]
	}
	var out []Mismatch
	add := func(k order.Key, field, want, got string) {
		out = append(out, Mismatch{Key: k, Field: field, Want: want, Got: got})
	}
	seen := make(map[order.Key]bool, len(expected))
	for _, e := range expected {
		seen[e.Key] = true
		g, ok := byKey[e.Key]
		if !ok {
			add(e.Key, "order", "present", "missing")
			continue
		}
		if g.Status != e.Status {
			add(e.Key, "status", string(e.Status), string(g.Status))
		}
		d := g.Detail
		if d == nil {
			continue
		}
		if d.Currency != e.Currency {
			add(e.Key, "detail.currency", e.Currency, d.Currency)
		}
		if d.Total.Cmp(e.Total) != 0 || d.Total == "" {
			add(e.Key, "detail.total", string(e.Total), string(d.Total))
		}
		if w, gi := itemsText(e.Items), itemsText(d.Items); w != gi {
			add(e.Key, "detail.items", w, gi)
		}
		if w, gt := strings.Join(e.TrackingNos, ","), strings.Join(trackingNos(d.Packages), ","); w != gt {
			add(e.Key, "detail.tracking_nos", w, gt)
		}
	}
	for _, g := range got {
		if !seen[g.Key()] {
			add(g.Key(), "order", "absent", "present")
		}
	}
	return out
}

// itemsText renders items comparably: sorted "sku x qty @ unit/paid",
// amounts in canonical form. Items of the same SKU and prices are one
// line whatever their status: Compare ignores item statuses, and Lazada's
// client keeps one item per SKU and line status (one unit shipped, one
// canceled) where the ground truth counts the SKU's units together.
func itemsText(items []order.Item) string {
	qty := map[string]int{}
	for _, it := range items {
		qty[fmt.Sprintf("%s x%%d @%s/%s", it.SKU, canon(it.UnitPrice), canon(it.PaidPrice))] += it.Quantity
	}
	lines := make([]string, 0, len(qty))
	for f, n := range qty {
		lines = append(lines, fmt.Sprintf(f, n))
	}
	slices.Sort(lines)
	return strings.Join(lines, "; ")
}

func canon(a order.Amount) string {
	if c, err := order.ParseAmount(string(a)); err == nil {
		return string(c)
	}
	return string(a)
}
