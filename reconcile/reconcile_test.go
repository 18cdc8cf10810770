package reconcile_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/bus/jetstream"
	"github.com/orderlane/orderlane/enrich"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/reconcile"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/shop"
	"github.com/orderlane/orderlane/subscriber"
)

// recorder publishes to the bus and keeps what it appended; fail, if set,
// refuses chosen messages as a broker outage would.
type recorder struct {
	bus *jetstream.Bus
	mu  sync.Mutex
	// appended are the messages the topic did not hold before.
	appended []bus.Message
	fail     func(bus.Message) bool
}

func (r *recorder) Publish(ctx context.Context, m bus.Message) (bus.PublishResult, error) {
	r.mu.Lock()
	fail := r.fail
	r.mu.Unlock()
	if fail != nil && fail(m) {
		return bus.PublishResult{}, errors.New("broker unavailable")
	}
	res, err := r.bus.Publish(ctx, m)
	if err == nil && !res.Duplicate {
		r.mu.Lock()
		r.appended = append(r.appended, m)
		r.mu.Unlock()
	}
	return res, err
}

func (r *recorder) setFail(f func(bus.Message) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = f
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.appended)
}

type fixture struct {
	*rig
	bus *jetstream.Bus
	pub *recorder
	rec *reconcile.Reconciler
	reg *prometheus.Registry
}

func setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{rig: newRig(t), reg: prometheus.NewRegistry()}
	e, err := jetstream.StartEmbedded(jetstream.EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	f.bus, err = jetstream.New(context.Background(), e.Conn, jetstream.Config{})
	if err != nil {
		t.Fatal(err)
	}
	f.pub = &recorder{bus: f.bus}
	f.rec, err = reconcile.New(reconcile.Config{
		Clients: f.Clients, Shops: f.Shops, Publisher: f.pub, Now: f.Clock.Now, Registerer: f.reg,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// subscribe runs the orders and enrich subscriptions on the bus, as the
// server wires them.
func (f *fixture) subscribe(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	en, err := enrich.New(enrich.Config{Clients: f.Clients, Shops: f.Shops, Details: f.Store, Now: f.Clock.Now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(en.Close)
	for _, s := range []struct {
		name string
		h    bus.Handler
	}{
		{subscriber.OrdersName, subscriber.NewOrders(f.Store, log, nil).Handle},
		{enrich.Name, en.Handle},
	} {
		sub, err := f.bus.Subscribe(ctx, bus.SubscriptionConfig{Name: s.name, Filter: "*.order",
			BackoffMin: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond, MaxAttempts: 50}, s.h)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Stop(context.Background()) })
	}
}

// converge waits until the store matches the sale's ground truth (statuses
// and, once enriched, details).
func (f *fixture) converge(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for {
		want := sandbox.Expected(f.Sale)
		var got []order.Order
		missingDetail := 0
		for _, w := range want {
			if o, err := f.Store.Get(ctx, w.Key); err == nil {
				got = append(got, o)
				if o.Detail == nil {
					missingDetail++
				}
			}
		}
		mism := sandbox.Compare(want, got)
		if len(mism) == 0 && missingDetail == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, m := range mism {
				t.Error(m)
			}
			t.Fatalf("not converged: %d mismatches, %d orders without detail", len(mism), missingDetail)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fixture) watermark(t *testing.T, p order.Platform, shopID string) time.Time {
	t.Helper()
	c, err := f.Shops.Get(context.Background(), p, shopID)
	if err != nil {
		t.Fatal(err)
	}
	return c.ReconciledUntil
}

// TestLostUpdatesFound: orders whose pushes never came (the whole sale,
// then one later change) are found by reconciliation, flow through the
// topic to the orders and enrich subscriptions, and converge to the
// ground truth; a pass that finds nothing new appends nothing.
func TestLostUpdatesFound(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.Clock.Advance(-3 * time.Hour)
	script := sandbox.Generate(f.Sale, sandbox.Spec{Orders: 18, ShopsPerPlatform: 1, LagRatio: -1, Start: f.Clock.Now(),
		Span: 20 * time.Minute}, rand.New(rand.NewPCG(5, 6)))
	script.Apply()
	f.Clock.Set(script.End.Add(time.Minute))
	for _, p := range order.Platforms {
		for _, sh := range f.Sale.Shops(p) {
			f.Connect(t, sh, shop.Connected)
		}
	}
	f.subscribe(t)

	rep, err := f.rec.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total := len(f.Sale.Orders())
	if got := sum(rep, func(s reconcile.ShopReport) int { return s.Published - s.Duplicates }); got != total || f.pub.count() != total {
		t.Fatalf("first pass appended %d (%d recorded), want %d: %+v", got, f.pub.count(), total, rep.Shops)
	}
	for _, s := range rep.Shops {
		if !s.Advanced || !f.watermark(t, s.Platform, s.ShopID).Equal(rep.Start) {
			t.Fatalf("%s shop %s: watermark not advanced to %s: %+v", s.Platform, s.ShopID, rep.Start, s)
		}
	}
	for _, m := range f.pub.appended {
		e, err := order.DecodeEvent(m.Data, 0)
		if err != nil || e.PushType != reconcile.PushType || e.Kind != order.KindStatus || m.ID != e.Key ||
			m.Group != e.Group() || m.Subject != string(e.Platform)+".order" || e.UpdateTime.IsZero() {
			t.Fatalf("message %+v: event %+v, %v", m, e, err)
		}
	}
	f.converge(t)

	// A change whose push is lost: found by the next pass, alone.
	f.Clock.Advance(2 * time.Minute)
	changed := f.Sale.Orders()[0]
	k := order.Key{Platform: changed.Platform, ShopID: changed.ShopID, OrderID: changed.OrderID}
	newStatus := map[order.Platform]string{order.Shopee: "CANCELLED", order.Lazada: "canceled", order.TikTok: "CANCELLED"}[k.Platform]
	f.Sale.Update(k, func(o *sandbox.Order) {
		o.Status, o.UpdateTime = newStatus, f.Clock.Now().Add(-time.Minute).Truncate(time.Second)
		for i := range o.Units {
			o.Units[i].Status = newStatus
		}
	})
	f.Clock.Advance(time.Minute)
	before := f.pub.count()
	rep, err = f.rec.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.pub.count() - before; n != 1 {
		t.Fatalf("second pass appended %d, want 1 (the lost change)", n)
	}
	f.converge(t)
	if o, _ := f.Store.Get(ctx, k); o.PlatformStatus != newStatus {
		t.Fatalf("changed order: %s, want %s", o.PlatformStatus, newStatus)
	}

	// Nothing new: everything the window lists is a duplicate.
	f.Clock.Advance(time.Minute)
	before = f.pub.count()
	dupsBefore := metric(t, f.reg, "orderlane_reconcile_duplicates_total", "")
	rep, err = f.rec.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	published := sum(rep, func(s reconcile.ShopReport) int { return s.Published })
	if f.pub.count() != before || published == 0 || sum(rep, func(s reconcile.ShopReport) int { return s.Duplicates }) != published {
		t.Fatalf("third pass appended %d new of %d published: %+v", f.pub.count()-before, published, rep.Shops)
	}
	if v := metric(t, f.reg, "orderlane_reconcile_duplicates_total", "") - dupsBefore; v != float64(published) {
		t.Fatalf("duplicates metric %v, want %d", v, published)
	}
}

// TestWatermarkOnlyOnSuccess: a shop whose listing fails (its token is
// refused) or whose events cannot all be appended keeps its watermark;
// the other shops advance; the next good pass catches up.
func TestWatermarkOnlyOnSuccess(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	good := sandbox.Shop{Platform: order.Shopee, ShopID: "1001", Region: "SG"}
	bad := sandbox.Shop{Platform: order.Shopee, ShopID: "1002", Region: "SG"}
	start := f.Clock.Now().Add(-time.Hour)
	for _, sh := range []sandbox.Shop{good, bad} {
		f.Sale.AddShop(sh)
		f.Connect(t, sh, shop.Connected)
		if _, err := f.Shops.Update(ctx, sh.Platform, sh.ShopID, func(c *shop.Connection) error {
			c.ReconciledUntil = start
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		putShopee(f.Sale, sh, sh.ShopID+"A", f.Clock.Now().Add(-10*time.Minute))
	}
	if _, err := f.Shops.Update(ctx, order.Shopee, bad.ShopID, func(c *shop.Connection) error {
		c.Token.AccessToken = "not-a-token-the-marketplace-issued"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rep, err := f.rec.Once(ctx)
	if err == nil {
		t.Fatal("pass with a refused shop: want an error")
	}
	if got := f.watermark(t, order.Shopee, bad.ShopID); !got.Equal(start) {
		t.Fatalf("refused shop's watermark moved to %s", got)
	}
	if got := f.watermark(t, order.Shopee, good.ShopID); !got.Equal(rep.Start) {
		t.Fatalf("good shop's watermark %s, want %s", got, rep.Start)
	}
	if v := metric(t, f.reg, "orderlane_reconcile_errors_total", "shopee"); v != 1 {
		t.Fatalf("errors metric %v, want 1", v)
	}

	// The token is fixed, but the broker refuses the bad shop's events.
	if _, err := f.Shops.Update(ctx, order.Shopee, bad.ShopID, func(c *shop.Connection) error {
		c.Token = f.Sale.IssueToken(order.Shopee, bad.ShopID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	f.pub.setFail(func(m bus.Message) bool { return strings.HasPrefix(m.Group, "shopee:"+bad.ShopID+":") })
	f.Clock.Advance(time.Minute)
	if _, err := f.rec.Once(ctx); err == nil {
		t.Fatal("pass with a failing publish: want an error")
	}
	if got := f.watermark(t, order.Shopee, bad.ShopID); !got.Equal(start) {
		t.Fatalf("watermark moved to %s although a publish failed", got)
	}

	f.pub.setFail(nil)
	f.Clock.Advance(time.Minute)
	rep, err = f.rec.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.watermark(t, order.Shopee, bad.ShopID); !got.Equal(rep.Start) {
		t.Fatalf("recovered shop's watermark %s, want %s", got, rep.Start)
	}
	var found bool
	for _, m := range f.pub.appended {
		found = found || strings.HasPrefix(m.Group, "shopee:"+bad.ShopID+":")
	}
	if !found {
		t.Fatal("the recovered shop's order was never published")
	}
}

// TestShopeeLostPushes: pushes Shopee could not deliver are read from
// its lost-push queue, published under the key the gateway derives for
// the delivered push (so a late delivery is a duplicate), and confirmed.
func TestShopeeLostPushes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	sh := sandbox.Shop{Platform: order.Shopee, ShopID: "1001", Region: "SG"}
	f.Sale.AddShop(sh)
	f.Connect(t, sh, shop.Connected)
	o := putShopee(f.Sale, sh, "250601LOST", f.Clock.Now().Add(-time.Minute))
	pushes, err := f.Shopee.Pushes(sandbox.Change{Kind: order.KindStatus, Order: o})
	if err != nil || len(pushes) == 0 {
		t.Fatalf("pushes: %v (%d)", err, len(pushes))
	}
	for _, p := range pushes {
		if err := f.Shopee.Lose(p); err != nil {
			t.Fatal(err)
		}
	}
	// A publish failure leaves the queue unconfirmed.
	f.pub.setFail(func(bus.Message) bool { return true })
	rep, err := f.rec.Once(ctx)
	if err == nil || rep.LostErr == nil || rep.LostConfirmed != 0 {
		t.Fatalf("failing publish: %v, confirmed %d", err, rep.LostConfirmed)
	}
	f.pub.setFail(nil)
	rep, err = f.rec.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.LostPushes != len(pushes) || rep.LostConfirmed == 0 {
		t.Fatalf("lost pushes published %d (confirmed %d), want %d", rep.LostPushes, rep.LostConfirmed, len(pushes))
	}
	page, err := f.Clients[order.Shopee].(*shopee.Client).LostPushes(ctx)
	if err != nil || len(page.Pushes) != 0 {
		t.Fatalf("queue after the pass: %d pushes, %v", len(page.Pushes), err)
	}
	// Published under the key the gateway derives for that body: the
	// delivered push without its msg_id (Shopee's queue returns none)
	// keys the same, and so appends nothing new.
	for _, p := range pushes {
		var env map[string]json.RawMessage
		if err := json.Unmarshal(p.Body, &env); err != nil {
			t.Fatal(err)
		}
		delete(env, "msg_id")
		body, _ := json.Marshal(env)
		e, err := shopee.Parse(body, f.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		data, _ := e.Encode()
		res, err := f.bus.Publish(ctx, bus.Message{ID: e.Key, Subject: "shopee.order", Group: e.Group(), Data: data})
		if err != nil || !res.Duplicate {
			t.Fatalf("push %s without msg_id: duplicate %v, %v", e.Key, res.Duplicate, err)
		}
	}
	if v := metric(t, f.reg, "orderlane_reconcile_published_total", "lost_push"); v != float64(len(pushes)) {
		t.Fatalf("lost_push metric %v, want %d", v, len(pushes))
	}
	// A second pass finds the queue empty and confirms nothing.
	rep, err = f.rec.Once(ctx)
	if err != nil || rep.LostPushes != 0 || rep.LostConfirmed != 0 {
		t.Fatalf("second pass: %d lost pushes, confirmed %d, %v", rep.LostPushes, rep.LostConfirmed, err)
	}
}

// TestRunStopsWithContext: Run passes at once and returns when ctx ends.
func TestRunStopsWithContext(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sh := sandbox.Shop{Platform: order.Shopee, ShopID: "1001", Region: "SG"}
	f.Sale.AddShop(sh)
	f.Connect(t, sh, shop.Connected)
	putShopee(f.Sale, sh, "250601RUN", f.Clock.Now().Add(-time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.rec.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for f.pub.count() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run published nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}

// TestKeyIsStable: the key depends on the identity, status and update
// second only.
func TestKeyIsStable(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	k := reconcile.Key(order.Shopee, "1", "A", "SHIPPED", at)
	if k != reconcile.Key(order.Shopee, "1", "A", "SHIPPED", at.Add(300*time.Millisecond).In(time.FixedZone("x", 3600))) {
		t.Fatal("key depends on sub-second time or zone")
	}
	for _, other := range []string{
		reconcile.Key(order.Lazada, "1", "A", "SHIPPED", at),
		reconcile.Key(order.Shopee, "1A", "", "SHIPPED", at),
		reconcile.Key(order.Shopee, "1", "A", "COMPLETED", at),
		reconcile.Key(order.Shopee, "1", "A", "SHIPPED", at.Add(time.Second)),
	} {
		if other == k {
			t.Fatalf("distinct states share key %s", k)
		}
	}
}

func putShopee(sale *sandbox.Sale, sh sandbox.Shop, id string, updated time.Time) sandbox.Order {
	updated = updated.Truncate(time.Second)
	o := sandbox.Order{
		Platform: order.Shopee, ShopID: sh.ShopID, OrderID: id, Status: "READY_TO_SHIP",
		CreateTime: updated.Add(-time.Hour), UpdateTime: updated, Currency: "SGD", ShippingFee: "2.5",
		Address: order.Address{Name: "Tan", Line: "1 Raffles Place", City: "Singapore", Country: "SG"},
		Units:   []sandbox.Unit{{LineID: id + "-1", ItemID: "11", SKU: "mug", Name: "Mug", UnitPrice: "19.9", PaidPrice: "17.35"}},
	}
	sale.Put(o)
	return o
}

func sum(rep reconcile.Report, f func(reconcile.ShopReport) int) int {
	n := 0
	for _, s := range rep.Shops {
		n += f(s)
	}
	return n
}

// metric sums the samples of name (any label equal to value; "" for all).
func metric(t *testing.T, reg *prometheus.Registry, name, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := value == ""
			for _, l := range m.GetLabel() {
				match = match || l.GetValue() == value
			}
			if match {
				total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return total
}
