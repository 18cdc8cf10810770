package enrich_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/bus/jetstream"
	"github.com/orderlane/orderlane/enrich"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/shop"
)

// TestSubscriptionRetriesUntilVisible: on a real JetStream subscription,
// an event for an order the API does not return yet is retried with
// backoff (not dead-lettered) and enriched once the order is visible.
func TestSubscriptionRetriesUntilVisible(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	e, err := jetstream.StartEmbedded(jetstream.EmbeddedConfig{StoreDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	b, err := jetstream.New(ctx, e.Conn, jetstream.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	sh := f.shopeeShop(t, shop.Connected)
	k := f.putShopee(sh, "250601SUB")
	f.Sale.Update(k, func(o *sandbox.Order) { o.VisibleAt = f.Clock.Now().Add(time.Minute) })
	sub, err := b.Subscribe(ctx, bus.SubscriptionConfig{Name: enrich.Name, Filter: enrich.Filter,
		MaxAttempts: 1000, BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond}, f.en.Handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Stop(context.Background()) })
	ev := f.statusEvent(t, k)
	data, _ := ev.Encode()
	if _, err := b.Publish(ctx, bus.Message{ID: ev.Key, Subject: "shopee.order", Group: ev.Group(), Data: data}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three not-visible attempts", func() bool { return f.Count(order.Shopee, shopee.PathOrderDetail) >= 3 })
	if _, err := f.Store.Get(ctx, k); err == nil {
		t.Fatal("order stored before it was visible")
	}
	f.Clock.Advance(2 * time.Minute)
	waitFor(t, "the detail", func() bool {
		o, err := f.Store.Get(ctx, k)
		return err == nil && o.Detail != nil
	})
	if st := sub.Stats(ctx); st.DeadLettered != 0 || st.Retries < 3 {
		t.Fatalf("stats %+v: want retries and no dead letter", st)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
