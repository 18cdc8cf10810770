// Package enrich completes orders with what only the marketplaces' APIs
// know: items, amounts, buyer, shipping address and packages. Its Enricher
// is the handler of the "enrich" subscription: for each order event of a
// connected shop it fetches the order through a cache-aside cache and
// stores it with order.DetailRepository.SetDetail.
//
// Wiring: subscribe Enricher.Handle as Name "enrich" with Filter
// "*.order" (or one subscription per platform, "enrich-shopee" on
// "shopee.order" and so on, so that one marketplace's outage pauses only
// its own enrichment; see Handle). An order the API does not return yet is
// retried with the subscription's backoff, so give the subscription a
// generous MaxAttempts and MaxAge (say 20 attempts, BackoffMax 1m, MaxAge
// 1h): marketplaces can take minutes to list a new order.
package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/cache"
	"github.com/orderlane/orderlane/internal/apiconfig"
	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
	"github.com/orderlane/orderlane/subscriber"
)

// Subscription name and filter of the enrichment.
const (
	Name   = "enrich"
	Filter = "*.order"
)

// ErrNotVisibleYet is wrapped by Handle's error when the marketplace's API
// does not return the order yet (it lists new orders with a delay). The
// error is retryable: the subscription tries again with backoff.
var ErrNotVisibleYet = errors.New("order not returned by the marketplace API yet")

// OrderGetter reads a stored order (order.Repository has it).
type OrderGetter interface {
	Get(ctx context.Context, k order.Key) (order.Order, error)
}

// Config configures an Enricher. Clients, Shops and Details are required.
type Config struct {
	// Clients are the API clients by platform. A platform without a
	// client (no API credentials) is not enriched: its orders run on push
	// data alone.
	Clients map[order.Platform]marketplace.Client
	// Shops holds the shops' connections and tokens.
	Shops shop.Store
	// Details stores the fetched details.
	Details order.DetailRepository
	// Orders, if set, lets Handle skip the fetch for a status event that
	// tells nothing new: the stored detail already has the event's raw
	// status at the event's update time or later (a push delivered twice
	// under different keys, or reconciliation finding a state again after
	// the topic's dedup window). Nil always fetches.
	Orders OrderGetter
	// Cache is the order detail cache, keyed "platform:shop:order". Nil
	// builds one from CacheConfig (Close closes only a cache it built).
	Cache *cache.Cache[order.Detail]
	// CacheConfig configures the cache built when Cache is nil. Its Name
	// defaults to "order_detail", its Logger and Registerer to the
	// Enricher's.
	CacheConfig cache.Config
	// MapStatus maps a platform's raw API status (order.Detail.Status)
	// onto the unified model. Defaults to the marketplace packages'
	// MapStatus (Lazada's detail already carries the order-level status
	// lazada.OrderStatus derives from the lines). A platform missing from
	// a non-nil map gets the default.
	MapStatus map[order.Platform]func(string) order.Status
	// Now is the clock that decides whether a token has expired. Defaults
	// to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives orderlane_enrich_events_total{platform,outcome},
	// orderlane_enrich_fetches_total{platform,outcome} and
	// orderlane_enrich_not_visible_total{platform}; nil registers none.
	Registerer prometheus.Registerer
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.CacheConfig.Name == "" {
		c.CacheConfig.Name = "order_detail"
	}
	if c.CacheConfig.Logger == nil {
		c.CacheConfig.Logger = c.Logger
	}
	if c.CacheConfig.Registerer == nil {
		c.CacheConfig.Registerer = c.Registerer
	}
	c.MapStatus = apiconfig.MapStatus(c.MapStatus)
	return c
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Shops == nil:
		return errors.New("enrich: Config.Shops is required")
	case c.Details == nil:
		return errors.New("enrich: Config.Details is required")
	}
	return apiconfig.ValidateClients("enrich", c.Clients)
}

// Enricher is the enrichment handler. It is safe for concurrent use.
type Enricher struct {
	cfg      Config
	log      *slog.Logger
	cache    *cache.Cache[order.Detail]
	ownCache bool
	tokens   singleflight.Group

	events     *prometheus.CounterVec
	fetches    *prometheus.CounterVec
	notVisible *prometheus.CounterVec
}

// New returns an Enricher for cfg (after WithDefaults and Validate).
func New(cfg Config) (*Enricher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Enricher{
		cfg: cfg, log: cfg.Logger, cache: cfg.Cache,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderlane_enrich_events_total",
			Help: "Order events handled by the enrichment, by platform and outcome (enriched, stale, current, no_client, not_connected, not_visible, shop_expired, failed).",
		}, []string{"platform", "outcome"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderlane_enrich_fetches_total",
			Help: "Order detail API fetches (cache misses), by platform and outcome (ok, not_found, auth, unavailable, error).",
		}, []string{"platform", "outcome"}),
		notVisible: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderlane_enrich_not_visible_total",
			Help: "Order events retried because the marketplace API did not return the order yet, by platform.",
		}, []string{"platform"}),
	}
	if err := apiconfig.Register("enrich", cfg.Registerer, e.events, e.fetches, e.notVisible); err != nil {
		return nil, err
	}
	if e.cache == nil {
		c, err := cache.New[order.Detail](cfg.CacheConfig)
		if err != nil {
			return nil, fmt.Errorf("enrich: %w", err)
		}
		e.cache, e.ownCache = c, true
	}
	return e, nil
}

// Close releases the cache New built (not one passed in Config.Cache).
func (e *Enricher) Close() {
	if e.ownCache {
		e.cache.Close()
	}
}

// CacheKey is the detail cache's key of an order: "platform:shop:order".
func CacheKey(k order.Key) string {
	return string(k.Platform) + ":" + k.ShopID + ":" + k.OrderID
}

// Handle implements bus.Handler for order events.
//
// It does nothing (nil) for a platform without a client, a shop that is not
// connected (unknown, Expired, Revoked) or an event that is not about an
// order. Otherwise it drops the order's cached detail (a newer event
// arrived, so what is cached may be stale), fetches the order through the
// cache (one fetch in flight per order), and stores it with SetDetail and
// the detail's mapped status. Errors, for the subscription:
//
//   - an event that does not decode or validate: bus.Permanent;
//   - the API does not return the order yet: a plain error wrapping
//     ErrNotVisibleYet, retried with backoff until the subscription's
//     MaxAttempts or MaxAge;
//   - the marketplace refuses the shop's token and its refresh
//     (marketplace.ErrAuth): the shop is marked shop.Expired and Handle
//     returns nil. The event is not at fault and its order is complete on
//     push data; retrying cannot help until the seller reconnects, and
//     reconciliation catches up then;
//   - marketplace.ErrRateLimited or ErrTemporary (after the client's own
//     retries), and an unavailable store: bus.Unavailable. The whole
//     subscription pauses with backoff rather than dead-lettering events
//     while a marketplace is down: nothing is lost, at the price of
//     delaying the other platforms' enrichment during the outage (run one
//     subscription per platform to isolate them);
//   - a detail the store refuses (order.ErrRejected): bus.Permanent;
//   - anything else (a request the marketplace refuses as it is): a plain
//     error, retried then dead-lettered.
func (e *Enricher) Handle(ctx context.Context, d *bus.Delivery) error {
	ev, err := order.DecodeEvent(d.Data, d.Seq)
	if err != nil {
		return bus.Permanent(fmt.Errorf("enrich: decode event seq %d: %w", d.Seq, err))
	}
	if !ev.Kind.IsOrder() || ev.OrderID == "" {
		return nil
	}
	if err := ev.Validate(); err != nil {
		return bus.Permanent(fmt.Errorf("enrich: event seq %d: %w", d.Seq, err))
	}
	outcome, err := e.enrich(ctx, &ev)
	e.events.WithLabelValues(string(ev.Platform), outcome).Inc()
	return err
}

// enrich does Handle's work and names its outcome for the metrics.
func (e *Enricher) enrich(ctx context.Context, ev *order.Event) (string, error) {
	p := ev.Platform
	client, ok := e.cfg.Clients[p]
	if !ok {
		return "no_client", nil
	}
	conn, err := e.cfg.Shops.Get(ctx, p, ev.ShopID)
	switch {
	case errors.Is(err, shop.ErrNotFound):
		return "not_connected", nil
	case err != nil:
		return "failed", subscriber.Classify(fmt.Errorf("enrich: shop %s/%s: %w", p, ev.ShopID, err))
	case conn.State != shop.Connected:
		return "not_connected", nil
	}
	k := order.Key{Platform: p, ShopID: ev.ShopID, OrderID: ev.OrderID}
	if e.current(ctx, k, ev) {
		return "current", nil
	}
	sh, err := e.token(ctx, client, conn, false)
	if err != nil {
		return e.apiFailure(ctx, ev, err)
	}
	detail, err := e.fetch(ctx, client, sh, k)
	if errors.Is(err, marketplace.ErrAuth) {
		// The token was refused before it expired (revoked, or replaced
		// by another process): refresh once and try again.
		if sh, err = e.token(ctx, client, conn, true); err != nil {
			return e.apiFailure(ctx, ev, err)
		}
		detail, err = e.fetch(ctx, client, sh, k)
	}
	if err != nil {
		return e.apiFailure(ctx, ev, err)
	}
	res, err := e.cfg.Details.SetDetail(ctx, k, detail, e.cfg.MapStatus[p](detail.Status))
	if err != nil {
		return "failed", subscriber.Classify(fmt.Errorf("enrich: store detail of %s: %w", CacheKey(k), err))
	}
	if !res.Stored {
		return "stale", nil
	}
	return "enriched", nil
}

// current reports whether the stored detail of k already shows what the
// status event ev says (see Config.Orders). Only status events qualify: a
// tracking or package push may change the order without moving its update
// time. A store error answers false (fetch).
func (e *Enricher) current(ctx context.Context, k order.Key, ev *order.Event) bool {
	if e.cfg.Orders == nil || ev.Kind != order.KindStatus || ev.UpdateTime.IsZero() || ev.PlatformStatus == "" {
		return false
	}
	o, err := e.cfg.Orders.Get(ctx, k)
	if err != nil || o.Detail == nil {
		return false
	}
	return o.Detail.Status == ev.PlatformStatus && !o.Detail.UpdateTime.Before(ev.UpdateTime)
}

// fetch drops k's cached detail and loads it again through the cache.
func (e *Enricher) fetch(ctx context.Context, client marketplace.Client, sh marketplace.Shop, k order.Key) (order.Detail, error) {
	key := CacheKey(k)
	if err := e.cache.Invalidate(ctx, key); err != nil {
		// The in-process tier is cleared; another instance may serve its
		// copy for up to the cache's MemoryTTL.
		e.log.Warn("enrich: shared cache invalidation failed", "platform", k.Platform, "shop_id", k.ShopID, "order_id", k.OrderID, "err", err)
	}
	d, err := e.cache.Get(ctx, key, func(ctx context.Context) (order.Detail, error) {
		got, err := client.Orders(ctx, sh, []string{k.OrderID})
		e.fetches.WithLabelValues(string(k.Platform), fetchOutcome(err, got, k.OrderID)).Inc()
		if err != nil {
			return order.Detail{}, err
		}
		d, ok := got[k.OrderID]
		if !ok {
			return order.Detail{}, cache.ErrNotFound
		}
		return d, nil
	})
	if errors.Is(err, cache.ErrNotFound) {
		// Not cached negatively for long: the next attempt invalidates
		// before it loads.
		return order.Detail{}, fmt.Errorf("enrich: %s: %w", key, ErrNotVisibleYet)
	}
	return d, err
}

func fetchOutcome(err error, got map[string]order.Detail, id string) string {
	switch {
	case err == nil:
		if _, ok := got[id]; ok {
			return "ok"
		}
		return "not_found"
	case errors.Is(err, marketplace.ErrAuth):
		return "auth"
	case errors.Is(err, marketplace.ErrRateLimited), errors.Is(err, marketplace.ErrTemporary):
		return "unavailable"
	}
	return "error"
}

// token returns the shop's identity with a usable token; force refreshes
// even a token that has not expired. One refresh per shop runs at a time
// in this process.
func (e *Enricher) token(ctx context.Context, client marketplace.Client, conn shop.Connection, force bool) (marketplace.Shop, error) {
	now := e.cfg.Now()
	if !force && now.Before(conn.Token.AccessExpiresAt) {
		return conn.Shop, nil
	}
	ch := e.tokens.DoChan(string(conn.Platform)+":"+conn.ShopID, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		// Another caller may have refreshed while this one waited.
		cur, err := e.cfg.Shops.Get(ctx, conn.Platform, conn.ShopID)
		if err != nil {
			return marketplace.Shop{}, err
		}
		if cur.State != shop.Connected {
			return marketplace.Shop{}, fmt.Errorf("enrich: %s shop %s: %w (%w)", conn.Platform, conn.ShopID, ErrShopExpired, marketplace.ErrAuth)
		}
		if cur.Token.AccessToken != conn.Token.AccessToken && now.Before(cur.Token.AccessExpiresAt) {
			return cur.Shop, nil
		}
		return refresh(ctx, client, e.cfg.Shops, cur, now)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return marketplace.Shop{}, r.Err
		}
		return r.Val.(marketplace.Shop), nil
	case <-ctx.Done():
		return marketplace.Shop{}, ctx.Err()
	}
}

// apiFailure classifies a failure to get the order from the marketplace.
func (e *Enricher) apiFailure(ctx context.Context, ev *order.Event, err error) (string, error) {
	p := string(ev.Platform)
	switch {
	case errors.Is(err, ErrNotVisibleYet):
		e.notVisible.WithLabelValues(p).Inc()
		return "not_visible", err
	case errors.Is(err, ErrShopExpired):
		e.log.Warn("enrich: shop authorisation expired; enrichment paused for the shop until it reconnects",
			"platform", p, "shop_id", ev.ShopID)
		return "shop_expired", nil
	case errors.Is(err, marketplace.ErrAuth):
		// The refreshed token was refused as well.
		return "shop_expired", e.markExpired(ctx, ev, err)
	case errors.Is(err, marketplace.ErrRateLimited), errors.Is(err, marketplace.ErrTemporary):
		return "failed", bus.Unavailable(err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "failed", err
	}
	return "failed", subscriber.Classify(err)
}

// markExpired records that the shop's fresh token is refused.
func (e *Enricher) markExpired(ctx context.Context, ev *order.Event, cause error) error {
	_, err := e.cfg.Shops.Update(ctx, ev.Platform, ev.ShopID, func(c *shop.Connection) error {
		c.State = shop.Expired
		c.LastError = truncate("order API refused a fresh token: "+cause.Error(), maxLastError)
		return nil
	})
	if err != nil {
		return subscriber.Classify(fmt.Errorf("enrich: mark %s shop %s expired: %w", ev.Platform, ev.ShopID, err))
	}
	e.log.Warn("enrich: shop token refused; shop marked expired", "platform", ev.Platform, "shop_id", ev.ShopID)
	return nil
}
