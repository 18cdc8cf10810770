package enrich_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/cache"
	"github.com/orderlane/orderlane/enrich"
	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/shop"
)

var parsers = map[order.Platform]func([]byte, time.Time) (order.Event, error){
	order.Shopee: shopee.Parse,
	order.Lazada: lazada.Parse,
	order.TikTok: tiktok.Parse,
}

type fixture struct {
	*rig
	en    *enrich.Enricher
	cache *cache.Cache[order.Detail]
	reg   *prometheus.Registry
	seq   atomic.Uint64
}

func setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{rig: newRig(t), reg: prometheus.NewRegistry()}
	var err error
	f.cache, err = cache.New[order.Detail](cache.Config{Name: "order_detail", TTL: time.Hour, MemoryTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.cache.Close)
	f.en, err = enrich.New(enrich.Config{
		Clients: f.Clients, Shops: f.Shops, Details: f.Store, Cache: f.cache,
		Now: f.Clock.Now, Registerer: f.reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.en.Close)
	return f
}

// delivery wraps e as the bus hands it to a subscription.
func (f *fixture) delivery(t *testing.T, e order.Event) *bus.Delivery {
	t.Helper()
	data, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return &bus.Delivery{
		Message: bus.Message{ID: e.Key, Subject: string(e.Platform) + ".order", Group: e.Group(), Data: data},
		Seq:     f.seq.Add(1), Attempt: 1, Published: f.Clock.Now(),
	}
}

// statusEvent is a status push for the sale's order k as it is now.
func (f *fixture) statusEvent(t *testing.T, k order.Key) order.Event {
	t.Helper()
	o, ok := f.Sale.Truth(k)
	if !ok {
		t.Fatalf("no order %v in the sale", k)
	}
	return order.Event{Platform: k.Platform, ShopID: k.ShopID, OrderID: k.OrderID, Kind: order.KindStatus,
		PushType: "3", PlatformStatus: o.Status, Status: sandbox.MapStatus(k.Platform, o.Status),
		UpdateTime: o.UpdateTime, Key: "test:" + k.OrderID + ":" + o.UpdateTime.String(), ReceivedAt: f.Clock.Now(),
		Payload: []byte(`{}`)}
}

// putShopee stores a Shopee order of the shop in the sale, updated now.
func (f *fixture) putShopee(sh sandbox.Shop, id string) order.Key {
	now := f.Clock.Now().Truncate(time.Second)
	f.Sale.Put(sandbox.Order{
		Platform: order.Shopee, ShopID: sh.ShopID, OrderID: id, Status: "READY_TO_SHIP",
		CreateTime: now.Add(-time.Hour), UpdateTime: now, Currency: "SGD", ShippingFee: "2.5",
		Buyer:    order.Buyer{ID: "9001", Username: "buyer"},
		Address:  order.Address{Name: "Tan", Line: "1 Raffles Place", City: "Singapore", Postcode: "048616", Country: "SG"},
		Packages: []order.Package{{ID: "OFG" + id, TrackingNo: "SPX" + id, Carrier: "SPX Express"}},
		Units: []sandbox.Unit{
			{LineID: id + "-1", ItemID: "11", SKU: "mug", Name: "Mug", UnitPrice: "19.9", PaidPrice: "17.35"},
			{LineID: id + "-2", ItemID: "11", SKU: "mug", Name: "Mug", UnitPrice: "19.9", PaidPrice: "17.35"},
		},
	})
	return order.Key{Platform: order.Shopee, ShopID: sh.ShopID, OrderID: id}
}

func (f *fixture) shopeeShop(t *testing.T, state shop.State) sandbox.Shop {
	t.Helper()
	sh := sandbox.Shop{Platform: order.Shopee, ShopID: "14701711", Region: "SG"}
	f.Sale.AddShop(sh)
	f.Connect(t, sh, state)
	return sh
}

// TestConvergesToTruth: a generated sale's pushes of the three
// marketplaces (Lazada one per order line) are applied to the store and
// handed to the enrichment, which brings every order's detail (items,
// total, address, packages) and status to the sandbox's ground truth.
func TestConvergesToTruth(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	script := sandbox.Generate(f.Sale, sandbox.Spec{Orders: 24, ShopsPerPlatform: 1, LagRatio: -1, Start: f.Clock.Now(),
		Span: 30 * time.Minute}, rand.New(rand.NewPCG(3, 4)))
	script.Apply()
	f.Clock.Set(script.End.Add(time.Minute))
	for _, p := range order.Platforms {
		for _, sh := range f.Sale.Shops(p) {
			f.Connect(t, sh, shop.Connected)
		}
	}
	sims := map[order.Platform]sandbox.Marketplace{order.Shopee: f.Shopee, order.Lazada: f.Lazada, order.TikTok: f.TikTok}
	linePushes := 0
	for _, st := range script.Steps {
		p := st.Change.Order.Platform
		pushes, err := sims[p].Pushes(st.Change)
		if err != nil {
			t.Fatal(err)
		}
		for _, push := range pushes {
			ev, err := parsers[p](push.Body, f.Clock.Now())
			if err != nil {
				t.Fatalf("%s push: %v", p, err)
			}
			if !ev.Kind.IsOrder() {
				continue
			}
			if p == order.Lazada && ev.PushType == "0" {
				linePushes++
			}
			if _, err := f.Store.Apply(ctx, &ev); err != nil {
				t.Fatal(err)
			}
			if err := f.en.Handle(ctx, f.delivery(t, ev)); err != nil {
				t.Fatalf("handle %s %s: %v", p, ev.OrderID, err)
			}
		}
	}
	if linePushes == 0 {
		t.Fatal("no Lazada per-line pushes in the sale")
	}
	want := sandbox.Expected(f.Sale)
	got := make([]order.Order, 0, len(want))
	for _, w := range want {
		o, err := f.Store.Get(ctx, w.Key)
		if err != nil {
			t.Fatalf("%v: %v", w.Key, err)
		}
		if o.Detail == nil {
			t.Fatalf("%v: not enriched", w.Key)
		}
		truth, _ := f.Sale.Truth(w.Key)
		if o.Detail.Address == nil && truth.Address.Line != "" && w.Key.Platform != order.TikTok {
			t.Errorf("%v: no address, want %q", w.Key, truth.Address.Line)
		}
		if o.Detail.Address != nil && o.Detail.Address.Line != truth.Address.Line {
			t.Errorf("%v: address %q, want %q", w.Key, o.Detail.Address.Line, truth.Address.Line)
		}
		if len(o.Detail.Packages) != len(truth.Packages) {
			t.Errorf("%v: %d packages, want %d", w.Key, len(o.Detail.Packages), len(truth.Packages))
		}
		got = append(got, o)
	}
	for _, m := range sandbox.Compare(want, got) {
		t.Error(m)
	}
	if n := metric(t, f.reg, "orderlane_enrich_events_total", "outcome", "enriched"); n == 0 {
		t.Error("no enriched events counted")
	}
}

// TestNotVisibleYetIsRetried: an order the API does not return yet fails
// with a retryable error (not Permanent, not Unavailable), stores
// nothing, and is enriched by a later attempt once the API returns it.
func TestNotVisibleYetIsRetried(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	sh := f.shopeeShop(t, shop.Connected)
	k := f.putShopee(sh, "250601LAG")
	f.Sale.Update(k, func(o *sandbox.Order) { o.VisibleAt = f.Clock.Now().Add(2 * time.Minute) })
	d := f.delivery(t, f.statusEvent(t, k))
	for range 3 {
		err := f.en.Handle(ctx, d)
		if !errors.Is(err, enrich.ErrNotVisibleYet) || bus.IsPermanent(err) || bus.IsUnavailable(err) {
			t.Fatalf("before visible: %v, want a retryable ErrNotVisibleYet", err)
		}
		d.Attempt++
	}
	if n := f.Count(order.Shopee, shopee.PathOrderDetail); n != 3 {
		t.Fatalf("%d detail calls for 3 attempts, want 3 (a not-found answer must not stick in the cache)", n)
	}
	if _, err := f.Store.Get(ctx, k); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("order stored before it was visible: %v", err)
	}
	f.Clock.Advance(3 * time.Minute)
	if err := f.en.Handle(ctx, d); err != nil {
		t.Fatal(err)
	}
	o, err := f.Store.Get(ctx, k)
	if err != nil || o.Detail == nil {
		t.Fatalf("after visible: %v, detail %v", err, o.Detail)
	}
	if o.Detail.Total != "37.2" || len(o.Detail.Items) != 1 || o.Detail.Items[0].Quantity != 2 || o.Status != order.StatusReadyToShip {
		t.Fatalf("detail %+v status %s", o.Detail, o.Status)
	}
	if n := metric(t, f.reg, "orderlane_enrich_not_visible_total", "platform", "shopee"); n != 3 {
		t.Fatalf("not-visible counter %v, want 3", n)
	}
}

// TestNewEventInvalidates: after an event the detail is cached (a
// cache-aside read costs no API call); the next event for the order drops
// it and reloads, so a change the API shows is picked up.
func TestNewEventInvalidates(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	sh := f.shopeeShop(t, shop.Connected)
	k := f.putShopee(sh, "250601INV")
	if err := f.en.Handle(ctx, f.delivery(t, f.statusEvent(t, k))); err != nil {
		t.Fatal(err)
	}
	if n := f.Count(order.Shopee, shopee.PathOrderDetail); n != 1 {
		t.Fatalf("%d detail calls, want 1", n)
	}
	// Warm: the cache answers without loading.
	d, err := f.cache.Get(ctx, enrich.CacheKey(k), func(context.Context) (order.Detail, error) {
		t.Error("warm cache loaded")
		return order.Detail{}, errors.New("unexpected load")
	})
	if err != nil || d.Status != "READY_TO_SHIP" {
		t.Fatalf("cached %+v, %v", d, err)
	}
	f.Clock.Advance(time.Minute)
	f.Sale.Update(k, func(o *sandbox.Order) { o.Status, o.UpdateTime = "SHIPPED", f.Clock.Now().Truncate(time.Second) })
	if err := f.en.Handle(ctx, f.delivery(t, f.statusEvent(t, k))); err != nil {
		t.Fatal(err)
	}
	if n := f.Count(order.Shopee, shopee.PathOrderDetail); n != 2 {
		t.Fatalf("%d detail calls after the second event, want 2 (invalidated and reloaded)", n)
	}
	o, err := f.Store.Get(ctx, k)
	if err != nil || o.Detail.Status != "SHIPPED" || o.Status != order.StatusShipped {
		t.Fatalf("after the second event: %v %+v", err, o)
	}
}

// TestSkipsWithoutAPICalls: an unknown shop, a shop that is not connected,
// a platform without a client and a notice cost no API call.
func TestSkipsWithoutAPICalls(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	sh := f.shopeeShop(t, shop.Revoked)
	k := f.putShopee(sh, "250601REV")
	if err := f.en.Handle(ctx, f.delivery(t, f.statusEvent(t, k))); err != nil {
		t.Fatal(err)
	}
	other := sandbox.Shop{Platform: order.Shopee, ShopID: "999", Region: "SG"}
	f.Sale.AddShop(other)
	if err := f.en.Handle(ctx, f.delivery(t, f.statusEvent(t, f.putShopee(other, "250601UNK")))); err != nil {
		t.Fatal(err)
	}
	noClient, err := enrich.New(enrich.Config{Shops: f.Shops, Details: f.Store})
	if err != nil {
		t.Fatal(err)
	}
	defer noClient.Close()
	f.Connect(t, other, shop.Connected)
	if err := noClient.Handle(ctx, f.delivery(t, f.statusEvent(t, order.Key{Platform: order.Shopee, ShopID: "999", OrderID: "250601UNK"}))); err != nil {
		t.Fatal(err)
	}
	notice := order.Event{Platform: order.Shopee, ShopID: "999", Kind: order.KindNotice, PushType: "1", Key: "n", Payload: []byte(`{}`)}
	if err := f.en.Handle(ctx, f.delivery(t, notice)); err != nil {
		t.Fatal(err)
	}
	if n := f.Count(order.Shopee, ""); n != 0 {
		t.Fatalf("%d API calls, want none", n)
	}
	if _, err := f.Store.Get(ctx, k); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("skipped order stored: %v", err)
	}
	if n := metric(t, f.reg, "orderlane_enrich_events_total", "outcome", "not_connected"); n != 2 {
		t.Fatalf("not_connected %v, want 2", n)
	}
}

// TestExpiredTokenRefreshed: an access token past its expiry is refreshed
// (and the new one stored) before the fetch.
func TestExpiredTokenRefreshed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	sh := f.shopeeShop(t, shop.Connected)
	before, _ := f.Shops.Get(ctx, order.Shopee, sh.ShopID)
	f.Clock.Set(before.Token.AccessExpiresAt.Add(time.Minute))
	k := f.putShopee(sh, "250601EXP")
	if err := f.en.Handle(ctx, f.delivery(t, f.statusEvent(t, k))); err != nil {
		t.Fatal(err)
	}
	after, err := f.Shops.Get(ctx, order.Shopee, sh.ShopID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Token.AccessToken == before.Token.AccessToken || !after.Token.AccessExpiresAt.After(f.Clock.Now()) || after.State != shop.Connected {
		t.Fatalf("token not refreshed: %v -> %v (%s)", before.Token, after.Token, after.State)
	}
	if n := f.Count(order.Shopee, shopee.PathAccessTokenGet); n != 1 {
		t.Fatalf("%d refresh calls, want 1", n)
	}
	if o, err := f.Store.Get(ctx, k); err != nil || o.Detail == nil {
		t.Fatalf("not enriched after refresh: %v", err)
	}
}

// TestRefusedRefreshExpiresShop: when the marketplace refuses the refresh,
// the shop is marked Expired with the reason and the event is acknowledged
// (nil): it is not at fault, and the order stays on push data.
func TestRefusedRefreshExpiresShop(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	sh := f.shopeeShop(t, shop.Connected)
	if _, err := f.Shops.Update(ctx, order.Shopee, sh.ShopID, func(c *shop.Connection) error {
		c.Token.AccessToken, c.Token.RefreshToken = "revoked-access", "revoked-refresh"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	k := f.putShopee(sh, "250601RVK")
	if err := f.en.Handle(ctx, f.delivery(t, f.statusEvent(t, k))); err != nil {
		t.Fatalf("handle: %v, want nil", err)
	}
	c, err := f.Shops.Get(ctx, order.Shopee, sh.ShopID)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != shop.Expired || c.LastError == "" || strings.Contains(c.LastError, "revoked-") {
		t.Fatalf("state %s, last error %q", c.State, c.LastError)
	}
	// Expired: the next event costs nothing.
	calls := f.Count(order.Shopee, "")
	if err := f.en.Handle(ctx, f.delivery(t, f.statusEvent(t, k))); err != nil {
		t.Fatal(err)
	}
	if n := f.Count(order.Shopee, ""); n != calls {
		t.Fatalf("%d API calls for an expired shop", n-calls)
	}
}

// TestBadEventIsPermanent: an undecodable event is dead-lettered at once.
func TestBadEventIsPermanent(t *testing.T) {
	t.Parallel()
	f := setup(t)
	err := f.en.Handle(context.Background(), &bus.Delivery{Message: bus.Message{Data: []byte("{")}})
	if !bus.IsPermanent(err) {
		t.Fatalf("%v, want permanent", err)
	}
}

// metric sums the counter samples of name whose label has value.
func metric(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// TestStatusAlreadyStoredSkipsFetch: with Orders set, a status event whose
// state the stored detail already shows (found again under another key)
// costs no API call; a newer state still fetches.
func TestStatusAlreadyStoredSkipsFetch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	en, err := enrich.New(enrich.Config{Clients: f.Clients, Shops: f.Shops, Details: f.Store, Orders: f.Store, Now: f.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer en.Close()
	sh := f.shopeeShop(t, shop.Connected)
	k := f.putShopee(sh, "250601CUR")
	ev := f.statusEvent(t, k)
	if err := en.Handle(ctx, f.delivery(t, ev)); err != nil {
		t.Fatal(err)
	}
	ev.Key, ev.PushType = "reconcile:again", "reconcile"
	if err := en.Handle(ctx, f.delivery(t, ev)); err != nil {
		t.Fatal(err)
	}
	if n := f.Count(order.Shopee, shopee.PathOrderDetail); n != 1 {
		t.Fatalf("%d detail calls, want 1 (the second event said nothing new)", n)
	}
	f.Clock.Advance(time.Minute)
	f.Sale.Update(k, func(o *sandbox.Order) { o.Status, o.UpdateTime = "SHIPPED", f.Clock.Now().Truncate(time.Second) })
	if err := en.Handle(ctx, f.delivery(t, f.statusEvent(t, k))); err != nil {
		t.Fatal(err)
	}
	if n := f.Count(order.Shopee, shopee.PathOrderDetail); n != 2 {
		t.Fatalf("%d detail calls, want 2 (a newer status fetches)", n)
	}
}
