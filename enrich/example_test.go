package enrich_test

import (
	"context"
	"time"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/enrich"
	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
)

// How the server wires the enrichment: one subscription on order events,
// with retries generous enough for an order the API lists late.
func Example() {
	var (
		ctx context.Context
		b   interface {
			Subscribe(context.Context, bus.SubscriptionConfig, bus.Handler) (bus.Subscription, error)
		}
		clients map[order.Platform]marketplace.Client // only the platforms with API credentials
		shops   shop.Store
		repo    interface {
			order.DetailRepository
			enrich.OrderGetter
		}
	)
	if b == nil {
		return // a sketch: the values come from the server's wiring
	}
	en, err := enrich.New(enrich.Config{Clients: clients, Shops: shops, Details: repo, Orders: repo})
	if err != nil {
		return
	}
	defer en.Close()
	_, _ = b.Subscribe(ctx, bus.SubscriptionConfig{
		Name: enrich.Name, Filter: enrich.Filter,
		MaxAttempts: 20, BackoffMax: time.Minute, MaxAge: time.Hour,
	}, en.Handle)
}
