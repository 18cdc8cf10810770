package lazadasim_test

import (
	"context"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/lazadasim"
)

// lineItems is what the client makes of an order's units: grouped by SKU
// and line status, in order of first appearance.
func lineItems(o sandbox.Order) []order.Item {
	var items []order.Item
	idx := map[[2]string]int{}
	for _, u := range o.Units {
		st := u.Status
		if st == "" {
			st = o.Status
		}
		k := [2]string{u.SKU, st}
		if i, ok := idx[k]; ok {
			items[i].Quantity++
			continue
		}
		idx[k] = len(items)
		items = append(items, order.Item{ItemID: u.ItemID, SKU: u.SKU, Name: u.Name, Quantity: 1,
			UnitPrice: u.UnitPrice, PaidPrice: u.PaidPrice, Status: st})
	}
	return items
}

// TestGeneratedSale runs a generated Lazada sale through the sim: every
// change renders as pushes the lazada package verifies and parses, and
// the client reads every order's final state and lists every order as the
// ground truth has them.
func TestGeneratedSale(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now().Truncate(time.Second)}
	sale := sandbox.NewSale(clk.Now)
	script := sandbox.Generate(sale, sandbox.Spec{Orders: 80, Platforms: []order.Platform{order.Lazada},
		Start: clk.Now().Add(-72 * time.Hour)}, rand.New(rand.NewPCG(3, 4)))
	sim := lazadasim.New(sale, lazadasim.Config{Clock: clk.Now})
	app := sandbox.TestApp(order.Lazada)
	v := lazada.NewVerifier(app.Key, []byte(app.Secret))
	pushes := 0
	for _, st := range script.Steps {
		ps, err := sim.Pushes(st.Change)
		if err != nil {
			t.Fatalf("%s of %s: %v", st.Change.Kind, st.Change.Order.OrderID, err)
		}
		for _, p := range ps {
			if err := v.Verify(p.Signature, p.Body); err != nil {
				t.Fatalf("push %s: %v", p.Body, err)
			}
			ev, err := lazada.Parse(p.Body, st.At)
			if err != nil || ev.Kind != p.Kind || ev.OrderID != st.Change.Order.OrderID || ev.ShopID != st.Change.Order.ShopID {
				t.Fatalf("push %s parsed as %+v, %v", p.Body, ev, err)
			}
			pushes++
		}
	}
	if pushes == 0 {
		t.Fatal("no pushes")
	}
	script.Apply()

	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	client, err := lazada.NewClient(lazada.ClientConfig{AppKey: app.Key, AppSecret: app.Secret,
		BaseURL: srv.URL + "/rest", Now: clk.Now, RatePerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	checked := 0
	for _, sh := range sale.Shops(order.Lazada) {
		shop := marketplace.Shop{Platform: order.Lazada, ShopID: sh.ShopID, Region: sh.Region,
			Token: sale.IssueToken(order.Lazada, sh.ShopID)}
		var ids []string
		for _, o := range sale.Orders() {
			if o.ShopID == sh.ShopID {
				ids = append(ids, o.OrderID)
			}
		}
		got, err := client.Orders(ctx, shop, ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			truth, _ := sale.Truth(order.Key{Platform: order.Lazada, ShopID: sh.ShopID, OrderID: id})
			d, ok := got[id]
			if !ok {
				t.Errorf("order %s missing", id)
				continue
			}
			checked++
			if !reflect.DeepEqual(d.Items, lineItems(truth)) || d.Total != truth.Total() || d.ShippingFee != truth.ShippingFee ||
				d.Currency != truth.Currency || d.Status != truth.Status || !d.UpdateTime.Equal(truth.UpdateTime) ||
				!d.CreateTime.Equal(truth.CreateTime) || d.Buyer != truth.Buyer || d.Address == nil || *d.Address != truth.Address {
				t.Errorf("order %s:\n got %+v\nwant %+v (total %s)", id, d, truth, truth.Total())
			}
			if len(truth.Packages) <= len(truth.Units) && !slices.Equal(d.Packages, truth.Packages) {
				t.Errorf("order %s: packages %+v, want %+v", id, d.Packages, truth.Packages)
			}
		}
		var listed []string
		for cursor := ""; ; {
			page, err := client.Updated(ctx, shop, script.Start, script.End.Add(time.Second), cursor)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Orders {
				listed = append(listed, r.OrderID)
			}
			if cursor = page.Cursor; cursor == "" {
				break
			}
		}
		slices.Sort(listed)
		slices.Sort(ids)
		if !slices.Equal(listed, ids) {
			t.Errorf("shop %s: listed %d orders, want %d", sh.ShopID, len(listed), len(ids))
		}
	}
	if checked != 80 {
		t.Errorf("checked %d orders, want 80", checked)
	}
}
