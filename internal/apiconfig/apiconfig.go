// Package apiconfig holds the configuration pieces that the packages
// calling the marketplaces' APIs (enrich, reconcile) share: the default
// status mapping, the check of the clients map and metric registration.
package apiconfig

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
)

// MapStatus returns the marketplace packages' MapStatus for every
// platform, replaced by the non-nil functions of overrides. overrides is
// not changed.
func MapStatus(overrides map[order.Platform]func(string) order.Status) map[order.Platform]func(string) order.Status {
	maps := map[order.Platform]func(string) order.Status{
		order.Shopee: shopee.MapStatus,
		order.Lazada: lazada.MapStatus,
		order.TikTok: tiktok.MapStatus,
	}
	for p, f := range overrides {
		if f != nil {
			maps[p] = f
		}
	}
	return maps
}

// ValidateClients reports the first client of clients that is nil or
// serves another platform than its key, naming the field
// "<pkg>: Config.Clients[...]".
func ValidateClients(pkg string, clients map[order.Platform]marketplace.Client) error {
	for p, cl := range clients {
		if cl == nil {
			return fmt.Errorf("%s: Config.Clients[%q] is nil", pkg, p)
		}
		if cl.Platform() != p {
			return fmt.Errorf("%s: Config.Clients[%q] is a %s client", pkg, p, cl.Platform())
		}
	}
	return nil
}

// Register registers cs with reg (nil registers nothing); the error is
// prefixed "<pkg>: register metrics".
func Register(pkg string, reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("%s: register metrics: %w", pkg, err)
		}
	}
	return nil
}
