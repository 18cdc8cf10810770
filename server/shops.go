package server

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/orderlane/orderlane/api"
	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/enrich"
	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/reconcile"
	"github.com/orderlane/orderlane/shop"
	"github.com/orderlane/orderlane/shop/connect"
	"github.com/orderlane/orderlane/shop/refresh"
	"github.com/orderlane/orderlane/store/postgres"
	"github.com/orderlane/orderlane/store/sqlite"
	"github.com/orderlane/orderlane/subscriber"
)

// shopParts are the connected shops' side of the server: the enabled
// marketplaces' API clients, the shop store, the connect flow, the token
// refresher. All nil when no marketplace API is enabled.
type shopParts struct {
	clients   map[order.Platform]marketplace.Client
	store     shop.Store
	flow      *connect.Flow
	refresher *refresh.Refresher
	// stopRefresher ends the refresher's singleton.
	stopRefresher func()
	// stopReconcile ends the reconciliation loop and waits for it.
	stopReconcile func()
}

// Shops returns the shop store (tokens sealed with ORDERLANE_TOKEN_KEY),
// or nil when no marketplace API is enabled.
func (s *Server) Shops() shop.Store { return s.shopSide.store }

// Clients returns the API clients of the enabled marketplaces (empty when
// none is).
func (s *Server) Clients() map[order.Platform]marketplace.Client { return s.shopSide.clients }

// startShops builds what connected shops need when a marketplace API is
// enabled (config.Config.APIEnabled): the clients, the shop store on the
// order store's database, the connect flow (served by the API), and, with
// the worker role, the token refresher, the "shops" subscription that
// applies authorisation pushes, the "enrich" subscription that fetches
// each order's detail, and the reconciliation loop (when its interval is
// not 0). It runs after the store is open and before the API is built.
func (s *Server) startShops(ctx context.Context) error {
	enabled := s.cfg.APIEnabled()
	var names []string
	for p, on := range enabled {
		if on {
			names = append(names, p)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		if s.cfg.MarketplaceAPI.TokenKey == "" {
			s.log.Info("marketplace APIs off: ORDERLANE_TOKEN_KEY is not set; orders are kept from push data alone")
		} else {
			s.log.Info("marketplace APIs off: no marketplace has its API credentials set")
		}
		return nil
	}
	key, err := s.cfg.MarketplaceAPI.TokenKeyBytes()
	if err != nil {
		return err
	}
	sealer, err := shop.NewSealer(key)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	switch st := s.store.(type) {
	case *sqlite.Store:
		s.shopSide.store = st.Shops(sealer)
	case *postgres.Store:
		s.shopSide.store = st.Shops(sealer)
	default:
		return fmt.Errorf("server: the order store %T keeps no shops", s.store)
	}
	markets, err := marketplaces(s.cfg, enabled)
	if err != nil {
		return err
	}
	s.shopSide.clients = map[order.Platform]marketplace.Client{}
	for p, m := range markets {
		s.shopSide.clients[p] = m.Client
	}
	states, err := connect.NewStates(connect.DeriveStateKey(key), connect.DefaultStateTTL, nil)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if s.shopSide.flow, err = connect.New(connect.Config{
		Marketplaces: markets,
		Store:        s.shopSide.store,
		States:       states,
		CallbackBase: s.connectBase,
		Logger:       s.log,
	}); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.log.Info("marketplace APIs enabled", "platforms", strings.Join(names, ","))
	if s.cfg.MarketplaceAPI.PublicURL == "" {
		s.log.Warn("ORDERLANE_PUBLIC_URL is not set: the connect callbacks use the local address, which sellers' browsers cannot reach from elsewhere")
	}

	if !s.cfg.Cluster.Has(config.RoleWorker) {
		return nil
	}
	if s.shopSide.refresher, err = refresh.New(refresh.Config{
		Store:      s.shopSide.store,
		Clients:    s.shopSide.clients,
		Before:     s.cfg.MarketplaceAPI.RefreshBefore,
		Every:      s.cfg.MarketplaceAPI.RefreshEvery,
		Logger:     s.log,
		Registerer: s.reg,
	}); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	// One worker of a deployment refreshes tokens at a time.
	if s.shopSide.stopRefresher, err = s.bus.Singleton(ctx, "token-refresher", s.shopSide.refresher.Run); err != nil {
		return err
	}
	sub, err := s.bus.Subscribe(ctx, bus.SubscriptionConfig{
		Name: subscriber.ShopsName, Filter: subscriber.ShopsFilter,
		Concurrency: s.cfg.Workers, MaxAttempts: s.cfg.MaxAttempts, MaxAge: s.cfg.MaxEventAge,
	}, subscriber.NewShops(s.shopSide.store, s.log).Handle)
	if err != nil {
		return err
	}
	s.subs = append(s.subs, sub)
	if err := s.startEnrich(ctx); err != nil {
		return err
	}
	return s.startReconcile()
}

// startEnrich subscribes the enrichment to order events. Its retries are
// generous: an order the marketplace's API lists late ("not found yet")
// is tried again with backoff for up to an hour before it is
// dead-lettered.
func (s *Server) startEnrich(ctx context.Context) error {
	details, ok := s.store.(interface {
		order.DetailRepository
		enrich.OrderGetter
	})
	if !ok {
		return fmt.Errorf("server: the order store %T keeps no order details", s.store)
	}
	en, err := enrich.New(enrich.Config{
		Clients: s.shopSide.clients, Shops: s.shopSide.store, Details: details, Orders: details,
		CacheConfig: s.CacheConfig("order_detail"), Logger: s.log, Registerer: s.reg,
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	sub, err := s.bus.Subscribe(ctx, bus.SubscriptionConfig{
		Name: enrich.Name, Filter: enrich.Filter, Concurrency: s.cfg.Workers,
		MaxAttempts: max(s.cfg.MaxAttempts, 20), BackoffMax: time.Minute, MaxAge: max(s.cfg.MaxEventAge, time.Hour),
		HoldOnDeadLetter: s.hold[enrich.Name],
	}, en.Handle)
	if err != nil {
		en.Close()
		return err
	}
	s.subs = append(s.subs, closing{sub, en.Close})
	return nil
}

// closing is a subscription that releases what its handler holds once it
// has stopped.
type closing struct {
	bus.Subscription
	close func()
}

// Stop stops the subscription, then releases.
func (c closing) Stop(ctx context.Context) error {
	err := c.Subscription.Stop(ctx)
	c.close()
	return err
}

// startReconcile runs the reconciliation loop unless its interval is 0.
func (s *Server) startReconcile() error {
	m := s.cfg.MarketplaceAPI
	every, err := m.ReconcileInterval()
	if err != nil || every == 0 {
		if every == 0 && err == nil {
			s.log.Info("reconciliation off (ORDERLANE_RECONCILE_INTERVAL=0)")
		}
		return err
	}
	r, err := reconcile.New(reconcile.Config{
		Clients: s.shopSide.clients, Shops: s.shopSide.store, Publisher: s.bus,
		Interval: every, Margin: m.ReconcileMargin, Concurrency: m.ReconcileConcurrency,
		Logger: s.log, Registerer: s.reg,
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	// One worker of a deployment reconciles at a time: every pass costs
	// API calls against the marketplaces' limits, and Shopee's lost-push
	// queue is confirmed by whoever reads it.
	stop, err := s.bus.Singleton(context.Background(), "reconcile", func(ctx context.Context) {
		_ = r.Run(ctx) // logs its own failures; returns when ctx ends
	})
	if err != nil {
		return err
	}
	s.shopSide.stopReconcile = stop
	s.log.Info("reconciliation on", "interval", every, "margin", m.ReconcileMargin)
	return nil
}

// connectBase is the base of the connect callbacks: ORDERLANE_PUBLIC_URL,
// else the address the server listens on.
func (s *Server) connectBase() string {
	c := s.cfg
	if c.MarketplaceAPI.PublicURL == "" && s.listener != nil {
		c.HTTPAddr = s.listener.Addr().String()
	}
	return c.ConnectBaseURL()
}

// shopsAPI is the connect flow for the API, nil (routes answer 404) when
// no marketplace API is enabled.
func (s *Server) shopsAPI() api.Shops {
	if s.shopSide.flow == nil {
		return nil
	}
	return s.shopSide.flow
}

// stopShops stops the token refresher and the reconciliation loop.
func (s *Server) stopShops() {
	if s.shopSide.stopRefresher != nil {
		s.shopSide.stopRefresher()
	}
	if s.shopSide.stopReconcile != nil {
		s.shopSide.stopReconcile()
	}
}

// marketplaces builds the enabled marketplaces' clients and authorisation
// links from cfg.
func marketplaces(cfg config.Config, enabled map[string]bool) (map[order.Platform]connect.Marketplace, error) {
	m := cfg.MarketplaceAPI
	out := map[order.Platform]connect.Marketplace{}
	if enabled["shopee"] {
		c, err := shopee.NewClient(shopee.ClientConfig{
			PartnerID: cfg.Shopee.PartnerID, PartnerKey: cfg.Shopee.PartnerKey,
			BaseURL: m.ShopeeURL, RatePerSecond: m.ShopeeRate,
		})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		id, key, host := cfg.Shopee.PartnerID, cfg.Shopee.PartnerKey, m.ShopeeURL
		out[order.Shopee] = connect.Marketplace{Client: c, AuthURL: func(redirect, state string, now time.Time) string {
			// Shopee carries no state: it rides in the redirect's query,
			// to which Shopee appends code and shop_id.
			return connect.ShopeeAuthURL(host, id, key, redirect+"?state="+url.QueryEscape(state), now)
		}}
	}
	if enabled["lazada"] {
		c, err := lazada.NewClient(lazada.ClientConfig{
			AppKey: cfg.Lazada.AppKey, AppSecret: cfg.Lazada.AppSecret,
			BaseURL: m.LazadaURL, AuthBaseURL: m.LazadaAuthURL, RatePerSecond: m.LazadaRate,
		})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		appKey, host := cfg.Lazada.AppKey, m.LazadaAuthURL
		if host == "" {
			host = m.LazadaURL
		}
		out[order.Lazada] = connect.Marketplace{Client: c, AuthURL: func(redirect, state string, _ time.Time) string {
			return connect.LazadaAuthURL(host, appKey, redirect, state)
		}}
	}
	if enabled["tiktok"] {
		c, err := tiktok.NewClient(tiktok.ClientConfig{
			AppKey: cfg.TikTok.AppKey, AppSecret: cfg.TikTok.AppSecret,
			BaseURL: m.TikTokURL, AuthBaseURL: m.TikTokAuthURL, RatePerSecond: m.TikTokRate,
		})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		appKey, host := cfg.TikTok.AppKey, m.TikTokAuthURL
		out[order.TikTok] = connect.Marketplace{Client: c, AuthURL: func(_, state string, _ time.Time) string {
			return connect.TikTokAuthURL(host, appKey, state)
		}}
	}
	return out, nil
}
