package tiktoksim_test

import (
	"context"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/tiktoksim"
)

// TestGeneratedSale runs a generated TikTok sale through the sim: every
// change renders as webhooks the tiktok package verifies and parses, and
// the client reads every order's final state as the ground truth has it.
func TestGeneratedSale(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now().Truncate(time.Second)}
	sale := sandbox.NewSale(clk.Now)
	script := sandbox.Generate(sale, sandbox.Spec{Orders: 80, Platforms: []order.Platform{order.TikTok},
		Start: clk.Now().Add(-72 * time.Hour)}, rand.New(rand.NewPCG(1, 2)))
	sim := tiktoksim.New(sale, tiktoksim.Config{Clock: clk.Now})
	app := sandbox.TestApp(order.TikTok)
	v := tiktok.NewVerifier(app.Key, []byte(app.Secret))
	for _, st := range script.Steps {
		pushes, err := sim.Pushes(st.Change)
		if err != nil {
			t.Fatalf("%s of %s: %v", st.Change.Kind, st.Change.Order.OrderID, err)
		}
		for _, p := range pushes {
			if err := v.Verify(p.Signature, p.Body); err != nil {
				t.Fatalf("push %s: %v", p.Body, err)
			}
			ev, err := tiktok.Parse(p.Body, st.At)
			if err != nil || ev.Kind != st.Change.Kind || ev.OrderID != st.Change.Order.OrderID || ev.ShopID != st.Change.Order.ShopID {
				t.Fatalf("push %s parsed as %+v, %v", p.Body, ev, err)
			}
		}
	}
	script.Apply()

	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	client, err := tiktok.NewClient(tiktok.ClientConfig{AppKey: app.Key, AppSecret: app.Secret,
		BaseURL: srv.URL, AuthBaseURL: srv.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	checked := 0
	for _, sh := range sale.Shops(order.TikTok) {
		shop := marketplace.Shop{Platform: order.TikTok, ShopID: sh.ShopID, Cipher: sh.Cipher,
			Token: sale.IssueToken(order.TikTok, sh.ShopID)}
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
			truth, _ := sale.Truth(order.Key{Platform: order.TikTok, ShopID: sh.ShopID, OrderID: id})
			d, ok := got[id]
			if !ok {
				t.Errorf("order %s missing", id)
				continue
			}
			checked++
			if !reflect.DeepEqual(d.Items, truth.Items()) || d.Total != truth.Total() || d.ShippingFee != truth.ShippingFee ||
				d.Currency != truth.Currency || !slices.Equal(d.Packages, truth.Packages) ||
				tiktok.MapStatus(d.Status) != tiktok.MapStatus(truth.Status) || !d.UpdateTime.Equal(truth.UpdateTime) {
				t.Errorf("order %s:\n got %+v\nwant %+v (total %s)", id, d, truth, truth.Total())
			}
			withheld := truth.Status == "UNPAID" || truth.Status == "ON_HOLD"
			if (d.Address == nil) != withheld || (d.Address != nil && *d.Address != truth.Address) {
				t.Errorf("order %s (%s): address %+v, want %+v", id, truth.Status, d.Address, truth.Address)
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
