package sandbox_test

import (
	"testing"
	"time"

	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
)

func truthSale(t *testing.T) (*sandbox.Sale, order.Key, order.Key) {
	t.Helper()
	sale := sandbox.NewSale(nil)
	a := order.Key{Platform: order.Lazada, ShopID: "100", OrderID: "1"}
	b := order.Key{Platform: order.TikTok, ShopID: "7494", OrderID: "57"}
	unit := func(line, sku, price, paid, status string) sandbox.Unit {
		return sandbox.Unit{LineID: line, SKU: sku, ItemID: "i" + sku, UnitPrice: order.Amount(price), PaidPrice: order.Amount(paid), Status: status}
	}
	sale.Put(sandbox.Order{Platform: a.Platform, ShopID: a.ShopID, OrderID: a.OrderID, Currency: "SGD", ShippingFee: "1.99",
		Units:  []sandbox.Unit{unit("l1", "A", "10", "9.5", "canceled"), unit("l2", "A", "10", "9.5", "delivered"), unit("l3", "B", "3.1", "3.1", "delivered")},
		Status: "delivered", Packages: []order.Package{{ID: "p", TrackingNo: "LX1"}}, UpdateTime: time.Unix(1, 0)})
	sale.Put(sandbox.Order{Platform: b.Platform, ShopID: b.ShopID, OrderID: b.OrderID, Currency: "VND", ShippingFee: "0",
		Units: []sandbox.Unit{unit("x", "C", "150000", "150000", "")}, Status: "CANCELLED"})
	return sale, a, b
}

func TestExpected(t *testing.T) {
	t.Parallel()
	sale, a, b := truthSale(t)
	exp := sandbox.Expected(sale)
	if len(exp) != 2 || exp[0].Key != a || exp[1].Key != b {
		t.Fatalf("Expected = %+v", exp)
	}
	e := exp[0]
	if e.Status != order.StatusDelivered || e.PlatformStatus != "delivered" || e.Total != "24.09" || e.Currency != "SGD" {
		t.Errorf("lazada order: %+v", e)
	}
	if len(e.Items) != 2 || e.Items[0].SKU != "A" || e.Items[0].Quantity != 2 || e.Items[1].Quantity != 1 {
		t.Errorf("items %+v, want A x2, B x1", e.Items)
	}
	if len(e.TrackingNos) != 1 || e.TrackingNos[0] != "LX1" {
		t.Errorf("tracking %v", e.TrackingNos)
	}
	if exp[1].Status != order.StatusCancelled || exp[1].Total != "150000" {
		t.Errorf("tiktok order: %+v", exp[1])
	}
}

func TestCompare(t *testing.T) {
	t.Parallel()
	sale, a, b := truthSale(t)
	exp := sandbox.Expected(sale)
	good := func() []order.Order {
		return []order.Order{
			{Platform: a.Platform, ShopID: a.ShopID, OrderID: a.OrderID, Status: order.StatusDelivered},
			{Platform: b.Platform, ShopID: b.ShopID, OrderID: b.OrderID, Status: order.StatusCancelled, PlatformStatus: "CANCEL"},
		}
	}
	if ms := sandbox.Compare(exp, good()); len(ms) != 0 {
		t.Fatalf("converged orders: %v", ms)
	}
	detail := func() *order.Detail {
		return &order.Detail{Currency: "SGD", Total: "24.090", Packages: []order.Package{{TrackingNo: "LX1"}},
			Items: []order.Item{{SKU: "B", Quantity: 1, UnitPrice: "3.10", PaidPrice: "3.1"}, {SKU: "A", Quantity: 2, UnitPrice: "10", PaidPrice: "9.50"}}}
	}
	g := good()
	g[0].Detail = detail()
	if ms := sandbox.Compare(exp, g); len(ms) != 0 {
		t.Fatalf("equal detail (other order, other decimals): %v", ms)
	}
	// Lazada's client keeps one item per SKU and line status: A canceled
	// and A delivered are the truth's A x2.
	g[0].Detail.Items = []order.Item{{SKU: "A", Quantity: 1, UnitPrice: "10", PaidPrice: "9.5", Status: "canceled"},
		{SKU: "B", Quantity: 1, UnitPrice: "3.1", PaidPrice: "3.1", Status: "delivered"},
		{SKU: "A", Quantity: 1, UnitPrice: "10", PaidPrice: "9.5", Status: "delivered"}}
	if ms := sandbox.Compare(exp, g); len(ms) != 0 {
		t.Fatalf("items split by line status: %v", ms)
	}
	g[0].Detail.Items[2].Quantity = 2
	if ms := sandbox.Compare(exp, g); len(ms) != 1 || ms[0].Field != "detail.items" {
		t.Fatalf("A x3 over two statuses: want a detail.items mismatch, got %v", ms)
	}
	for _, c := range []struct {
		field  string
		break_ func(o []order.Order) []order.Order
	}{
		{"status", func(o []order.Order) []order.Order { o[0].Status = order.StatusShipped; return o }},
		{"order", func(o []order.Order) []order.Order { return o[:1] }},
		{"order", func(o []order.Order) []order.Order {
			return append(o, order.Order{Platform: order.Shopee, ShopID: "1", OrderID: "X"})
		}},
		{"detail.total", func(o []order.Order) []order.Order { o[0].Detail = detail(); o[0].Detail.Total = "24.1"; return o }},
		{"detail.currency", func(o []order.Order) []order.Order { o[0].Detail = detail(); o[0].Detail.Currency = "MYR"; return o }},
		{"detail.items", func(o []order.Order) []order.Order {
			o[0].Detail = detail()
			o[0].Detail.Items[1].Quantity = 3
			return o
		}},
		{"detail.tracking_nos", func(o []order.Order) []order.Order {
			o[0].Detail = detail()
			o[0].Detail.Packages = nil
			return o
		}},
	} {
		ms := sandbox.Compare(exp, c.break_(good()))
		if len(ms) != 1 || ms[0].Field != c.field {
			t.Errorf("want one %s mismatch, got %v", c.field, ms)
		}
	}
}
