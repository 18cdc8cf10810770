package lazadasim_test

import (
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
	"github.com/orderlane/orderlane/sandbox/internal/simtest"
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
	clk := simtest.NewClock(time.Now().Truncate(time.Second))
	sale := sandbox.NewSale(clk.Now)
	script := sandbox.Generate(sale, sandbox.Spec{Orders: 80, Platforms: []order.Platform{order.Lazada},
		Start: clk.Now().Add(-72 * time.Hour)}, rand.New(rand.NewPCG(3, 4)))
	sim := lazadasim.New(sale, lazadasim.Config{Clock: clk.Now})
	app := sandbox.TestApp(order.Lazada)
	pushes := simtest.Pushes(t, sim, script, lazada.NewVerifier(app.Key, []byte(app.Secret)).Verify, lazada.Parse)
	if len(pushes) == 0 {
		t.Fatal("no pushes")
	}
	for _, p := range pushes {
		if p.Event.Kind != p.Push.Kind {
			t.Fatalf("push %s parsed as %s, rendered as %s", p.Push.Body, p.Event.Kind, p.Push.Kind)
		}
	}
	script.Apply()

	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	client, err := lazada.NewClient(lazada.ClientConfig{AppKey: app.Key, AppSecret: app.Secret,
		BaseURL: srv.URL + "/rest", Now: clk.Now, RatePerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	shop := func(sh sandbox.Shop) marketplace.Shop {
		return marketplace.Shop{Platform: order.Lazada, ShopID: sh.ShopID, Region: sh.Region,
			Token: sale.IssueToken(order.Lazada, sh.ShopID)}
	}
	checked := simtest.ReadBack(t, client, sale, script, shop, func(id string, d order.Detail, truth sandbox.Order) {
		if !reflect.DeepEqual(d.Items, lineItems(truth)) || d.Total != truth.Total() || d.ShippingFee != truth.ShippingFee ||
			d.Currency != truth.Currency || d.Status != truth.Status || !d.UpdateTime.Equal(truth.UpdateTime) ||
			!d.CreateTime.Equal(truth.CreateTime) || d.Buyer != truth.Buyer || d.Address == nil || *d.Address != truth.Address {
			t.Errorf("order %s:\n got %+v\nwant %+v (total %s)", id, d, truth, truth.Total())
		}
		if len(truth.Packages) <= len(truth.Units) && !slices.Equal(d.Packages, truth.Packages) {
			t.Errorf("order %s: packages %+v, want %+v", id, d.Packages, truth.Packages)
		}
	})
	if checked != 80 {
		t.Errorf("checked %d orders, want 80", checked)
	}
}
