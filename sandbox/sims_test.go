package sandbox_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/lazadasim"
	"github.com/orderlane/orderlane/sandbox/shopeesim"
	"github.com/orderlane/orderlane/sandbox/tiktoksim"
)

// TestDeliverWithSims plays a sale through the real fakes' push rendering:
// every push verifies with orderlane's verifiers and parses, and the
// events folded by orderlane's status rule match the ground truth despite
// duplicates and reordering.
func TestDeliverWithSims(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fast, sandbox.Spec{Orders: 90, Span: 20 * time.Minute}, 11)
	s.market = map[order.Platform]sandbox.Marketplace{
		order.Shopee: shopeesim.New(s.sale, shopeesim.Config{CallbackURL: s.recv.url(order.Shopee)}),
		order.Lazada: lazadasim.New(s.sale, lazadasim.Config{}),
		order.TikTok: tiktoksim.New(s.sale, tiktoksim.Config{}),
	}
	rep := s.deliver(t, sandbox.DeliveryOptions{Duplicates: 0.1, Reorder: 0.2, TrackingFirst: 0.5})
	if ms := sandbox.Compare(rep.Truth, s.recv.got()); len(ms) > 0 {
		t.Fatalf("%d mismatches, first %v", len(ms), ms[0])
	}
	for _, p := range order.Platforms {
		pr := rep.Platform(p)
		if pr.Pushes == 0 || pr.Failed != 0 || pr.Delivered != pr.Sent+pr.Duplicates {
			t.Errorf("%s: %+v", p, pr)
		}
	}
}

// TestSimsCheckTimestampsAgainstRealTime: with the sale's clock running a
// day ahead and 1000 times as fast as real time, each fake accepts a
// request signed with the real time and refuses one whose real timestamp
// is past the marketplace's window (Shopee and TikTok: 10 minutes old;
// Lazada, whose window is 7200 s: 2 h 10 min old) or that follows the
// sale's clock.
func TestSimsCheckTimestampsAgainstRealTime(t *testing.T) {
	t.Parallel()
	clock := sandbox.NewClock(time.Now().Add(24*time.Hour), 1000)
	sale := sandbox.NewSale(clock.Now)
	cases := []struct {
		p      order.Platform
		shop   sandbox.Shop
		status string
		stale  time.Duration
		code   string
		sim    sandbox.Marketplace
		client func(url string, now func() time.Time) (marketplace.Client, error)
	}{
		{p: order.Shopee, shop: sandbox.Shop{ShopID: "14701711", Region: "SG"}, status: "READY_TO_SHIP",
			stale: 10 * time.Minute, code: "error_param",
			sim: shopeesim.New(sale, shopeesim.Config{CallbackURL: "https://orderlane.example.com/webhooks/shopee"}),
			client: func(url string, now func() time.Time) (marketplace.Client, error) {
				app := sandbox.TestApp(order.Shopee)
				return shopee.NewClient(shopee.ClientConfig{PartnerID: app.Key, PartnerKey: app.Secret, BaseURL: url,
					SkipTracking: true, MaxAttempts: 1, RatePerSecond: -1, Now: now})
			}},
		{p: order.Lazada, shop: sandbox.Shop{ShopID: "1000143772", Region: "sg"}, status: "pending",
			stale: 7200*time.Second + 10*time.Minute, code: "InvalidTimestamp",
			sim: lazadasim.New(sale, lazadasim.Config{}),
			client: func(url string, now func() time.Time) (marketplace.Client, error) {
				app := sandbox.TestApp(order.Lazada)
				return lazada.NewClient(lazada.ClientConfig{AppKey: app.Key, AppSecret: app.Secret, BaseURL: url + "/rest",
					MaxAttempts: 1, RatePerSecond: -1, Now: now})
			}},
		{p: order.TikTok, shop: sandbox.Shop{ShopID: "7494049642642441621", Cipher: "ROW_xkMbgAAAeVAQ", Region: "ID"},
			status: "AWAITING_SHIPMENT", stale: 10 * time.Minute, code: strconv.Itoa(tiktok.CodeInvalidParam),
			sim: tiktoksim.New(sale, tiktoksim.Config{}),
			client: func(url string, now func() time.Time) (marketplace.Client, error) {
				app := sandbox.TestApp(order.TikTok)
				return tiktok.NewClient(tiktok.ClientConfig{AppKey: app.Key, AppSecret: app.Secret, BaseURL: url, AuthBaseURL: url,
					MaxAttempts: 1, RatePerSecond: -1, Now: now})
			}},
	}
	for _, c := range cases {
		t.Run(string(c.p), func(t *testing.T) {
			sale.SetApp(c.p, sandbox.TestApp(c.p))
			c.shop.Platform = c.p
			sale.AddShop(c.shop)
			created := clock.Now().Add(-time.Hour)
			sale.Put(sandbox.Order{Platform: c.p, ShopID: c.shop.ShopID, OrderID: "260101000001", Status: c.status,
				CreateTime: created, UpdateTime: created, Currency: "SGD", ShippingFee: "1",
				Units: []sandbox.Unit{{LineID: "1", ItemID: "7", SKU: "MUG", Name: "Mug", UnitPrice: "12", PaidPrice: "10", Status: c.status}}})
			srv := httptest.NewServer(c.sim.Handler())
			t.Cleanup(srv.Close)
			shop := marketplace.Shop{Platform: c.p, ShopID: c.shop.ShopID, Cipher: c.shop.Cipher, Region: c.shop.Region,
				Token: sale.IssueToken(c.p, c.shop.ShopID)}
			fetch := func(now func() time.Time) error {
				cl, err := c.client(srv.URL, now)
				if err != nil {
					t.Fatal(err)
				}
				got, err := cl.Orders(context.Background(), shop, []string{"260101000001"})
				if err == nil && len(got) != 1 {
					t.Fatalf("accepted, but %d orders", len(got))
				}
				return err
			}
			if err := fetch(time.Now); err != nil {
				t.Fatalf("signed with the real time: %v", err)
			}
			refused := func(name string, now func() time.Time) {
				var ae *marketplace.APIError
				if err := fetch(now); !errors.As(err, &ae) || ae.Code != c.code {
					t.Errorf("%s: err = %v, want code %s", name, err, c.code)
				}
			}
			refused("signed stale", func() time.Time { return time.Now().Add(-c.stale) })
			refused("signed with the sale's clock", clock.Now)
		})
	}
}
