package tiktoksim_test

import (
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
	"github.com/orderlane/orderlane/sandbox/internal/simtest"
	"github.com/orderlane/orderlane/sandbox/tiktoksim"
)

// TestGeneratedSale runs a generated TikTok sale through the sim: every
// change renders as webhooks the tiktok package verifies and parses, and
// the client reads every order's final state as the ground truth has it.
func TestGeneratedSale(t *testing.T) {
	t.Parallel()
	clk := simtest.NewClock(time.Now().Truncate(time.Second))
	sale := sandbox.NewSale(clk.Now)
	script := sandbox.Generate(sale, sandbox.Spec{Orders: 80, Platforms: []order.Platform{order.TikTok},
		Start: clk.Now().Add(-72 * time.Hour)}, rand.New(rand.NewPCG(1, 2)))
	sim := tiktoksim.New(sale, tiktoksim.Config{Clock: clk.Now})
	app := sandbox.TestApp(order.TikTok)
	for _, p := range simtest.Pushes(t, sim, script, tiktok.NewVerifier(app.Key, []byte(app.Secret)).Verify, tiktok.Parse) {
		if p.Event.Kind != p.Step.Change.Kind {
			t.Fatalf("push %s parsed as %s, the change is %s", p.Push.Body, p.Event.Kind, p.Step.Change.Kind)
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
	shop := func(sh sandbox.Shop) marketplace.Shop {
		return marketplace.Shop{Platform: order.TikTok, ShopID: sh.ShopID, Cipher: sh.Cipher,
			Token: sale.IssueToken(order.TikTok, sh.ShopID)}
	}
	checked := simtest.ReadBack(t, client, sale, script, shop, func(id string, d order.Detail, truth sandbox.Order) {
		if !reflect.DeepEqual(d.Items, truth.Items()) || d.Total != truth.Total() || d.ShippingFee != truth.ShippingFee ||
			d.Currency != truth.Currency || !slices.Equal(d.Packages, truth.Packages) ||
			tiktok.MapStatus(d.Status) != tiktok.MapStatus(truth.Status) || !d.UpdateTime.Equal(truth.UpdateTime) {
			t.Errorf("order %s:\n got %+v\nwant %+v (total %s)", id, d, truth, truth.Total())
		}
		withheld := truth.Status == "UNPAID" || truth.Status == "ON_HOLD"
		if (d.Address == nil) != withheld || (d.Address != nil && *d.Address != truth.Address) {
			t.Errorf("order %s (%s): address %+v, want %+v", id, truth.Status, d.Address, truth.Address)
		}
	})
	if checked != 80 {
		t.Errorf("checked %d orders, want 80", checked)
	}
}
