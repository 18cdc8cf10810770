// Package reconcile finds what the pushes missed. Marketplaces lose pushes
// and tell integrators to pull: a Reconciler lists, per connected shop, the
// orders updated since the shop's watermark (minus a safety margin) and
// publishes one synthetic status event per order through the same topic as
// the pushes, keyed so that finding the same state twice appends it once.
// For Shopee it also drains the lost-push queue.
//
// The events go where pushes go: the "orders" subscription applies their
// status, the "enrich" subscription fetches their details.
package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/enrich"
	"github.com/orderlane/orderlane/internal/apiconfig"
	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
)

// PushType is order.Event.PushType of the events reconciliation
// synthesises from an order listing.
const PushType = "reconcile"

// Publisher appends messages to the topic; see bus. The gateway publishes
// through the same interface.
type Publisher interface {
	Publish(ctx context.Context, m bus.Message) (bus.PublishResult, error)
}

// LostPushes is Shopee's lost-push queue (shopee.Client implements it). A
// Shopee client in Config.Clients that has it is drained every pass.
type LostPushes interface {
	LostPushes(ctx context.Context) (shopee.LostPushPage, error)
	ConfirmLostPushes(ctx context.Context, lastID int64) error
}

// Limits of one pass.
const (
	// MaxPages bounds the listing pages read per shop and pass; a shop
	// with more is reported as an error and its watermark stays.
	MaxPages = 10_000
	// MaxLostPushPages bounds the lost-push pages drained per pass (100
	// pushes each); the rest waits for the next pass.
	MaxLostPushPages = 50
)

// Config configures a Reconciler. Clients, Shops and Publisher are
// required.
type Config struct {
	// Clients are the API clients by platform; shops of a platform
	// without one are not reconciled.
	Clients map[order.Platform]marketplace.Client
	// Shops holds the connections; the watermark is their
	// ReconciledUntil.
	Shops shop.Store
	// Publisher appends the synthetic events to the topic.
	Publisher Publisher
	// Interval is the time between two passes of Run. Defaults to 10m.
	Interval time.Duration
	// Margin is the overlap of a pass with the previous one: a shop is
	// listed from its watermark minus Margin, catching orders whose
	// update the marketplace listed late. Defaults to 15m.
	Margin time.Duration
	// Lookback is how far back the first pass of a shop (zero watermark)
	// lists. Defaults to 24h.
	Lookback time.Duration
	// Concurrency is how many shops are reconciled at once. Defaults to 4.
	Concurrency int
	// MapStatus maps a platform's raw status onto the unified model.
	// Defaults to the marketplace packages' MapStatus; a platform missing
	// from a non-nil map gets the default.
	MapStatus map[order.Platform]func(string) order.Status
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the orderlane_reconcile_* metrics (see New);
	// nil registers none.
	Registerer prometheus.Registerer
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = 10 * time.Minute
	}
	if c.Margin <= 0 {
		c.Margin = 15 * time.Minute
	}
	if c.Lookback <= 0 {
		c.Lookback = 24 * time.Hour
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.MapStatus = apiconfig.MapStatus(c.MapStatus)
	return c
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Shops == nil:
		return errors.New("reconcile: Config.Shops is required")
	case c.Publisher == nil:
		return errors.New("reconcile: Config.Publisher is required")
	}
	return apiconfig.ValidateClients("reconcile", c.Clients)
}

// Reconciler runs reconciliation passes. Once and Run may be called
// concurrently; passes then run one at a time.
type Reconciler struct {
	cfg  Config
	log  *slog.Logger
	pass sync.Mutex
	m    metrics
}

type metrics struct {
	found, published, duplicates, errors *prometheus.CounterVec
	lastSuccess, lag                     *prometheus.GaugeVec
}

// New returns a Reconciler for cfg (after WithDefaults and Validate). Its
// metrics, by platform: orderlane_reconcile_orders_found_total,
// orderlane_reconcile_published_total{source} (list, lost_push),
// orderlane_reconcile_duplicates_total, orderlane_reconcile_errors_total,
// orderlane_reconcile_last_success_timestamp_seconds (the end of the last
// pass in which every shop of the platform succeeded) and
// orderlane_reconcile_watermark_lag_seconds (the oldest watermark of the
// platform's connected shops, as an age).
func New(cfg Config) (*Reconciler, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Reconciler{cfg: cfg, log: cfg.Logger, m: metrics{
		found: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderlane_reconcile_orders_found_total",
			Help: "Orders the reconciliation listings found, by platform.",
		}, []string{"platform"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderlane_reconcile_published_total",
			Help: "Events reconciliation appended to the topic, by platform and source (list, lost_push).",
		}, []string{"platform", "source"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderlane_reconcile_duplicates_total",
			Help: "Events reconciliation published that the topic already held (same key), by platform.",
		}, []string{"platform"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderlane_reconcile_errors_total",
			Help: "Failed reconciliations of a shop or of the lost-push queue, by platform.",
		}, []string{"platform"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "orderlane_reconcile_last_success_timestamp_seconds",
			Help: "When the last pass in which every shop of the platform succeeded ended (Unix seconds).",
		}, []string{"platform"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "orderlane_reconcile_watermark_lag_seconds",
			Help: "Age of the oldest reconciliation watermark among the platform's connected shops.",
		}, []string{"platform"}),
	}}
	if err := apiconfig.Register("reconcile", cfg.Registerer,
		r.m.found, r.m.published, r.m.duplicates, r.m.errors, r.m.lastSuccess, r.m.lag); err != nil {
		return nil, err
	}
	return r, nil
}

// Report is what one pass did.
type Report struct {
	Start, End time.Time
	// Shops has one entry per shop the pass looked at, by platform and id.
	Shops []ShopReport
	// LostPushes counts the Shopee lost pushes published; LostConfirmed is
	// the last message id confirmed (0: none).
	LostPushes    int
	LostConfirmed int64
	// LostErr is the lost-push queue's failure, if any.
	LostErr error
}

// ShopReport is one shop's part of a pass.
type ShopReport struct {
	Platform order.Platform
	ShopID   string
	// From and To are the window listed, [From, To).
	From, To time.Time
	// Found counts the orders listed, Published the events appended and
	// Duplicates those the topic already held.
	Found, Published, Duplicates int
	// Advanced is true when the watermark moved to To.
	Advanced bool
	// Skipped names why the shop was not listed ("not_connected",
	// "no_client"); "" when it was.
	Skipped string
	// Err is the shop's failure; the watermark stays where it was.
	Err error
}

// Run reconciles every Interval, starting at once, until ctx ends (then
// it returns nil). A failing pass is logged and counted; the next one
// retries it.
func (r *Reconciler) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		rep, err := r.Once(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("reconcile: pass incomplete", "shops", len(rep.Shops), "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once runs one pass: the Shopee lost-push queue, then every connected
// shop with a client, Concurrency at a time. The error joins the shops'
// and the queue's failures (nil when everything succeeded); the report
// is complete either way.
func (r *Reconciler) Once(ctx context.Context) (Report, error) {
	r.pass.Lock()
	defer r.pass.Unlock()
	rep := Report{Start: r.cfg.Now()}
	var errs []error
	if lp, ok := r.cfg.Clients[order.Shopee].(LostPushes); ok {
		rep.LostPushes, rep.LostConfirmed, rep.LostErr = r.lostPushes(ctx, lp)
		if rep.LostErr != nil {
			r.m.errors.WithLabelValues(string(order.Shopee)).Inc()
			errs = append(errs, rep.LostErr)
		}
	}
	conns, err := r.cfg.Shops.List(ctx, "")
	if err != nil {
		rep.End = r.cfg.Now()
		return rep, errors.Join(append(errs, fmt.Errorf("reconcile: list shops: %w", err))...)
	}
	rep.Shops = make([]ShopReport, len(conns))
	sem := make(chan struct{}, r.cfg.Concurrency)
	var wg sync.WaitGroup
	for i, c := range conns {
		rep.Shops[i] = ShopReport{Platform: c.Platform, ShopID: c.ShopID}
		client, ok := r.cfg.Clients[c.Platform]
		switch {
		case !ok:
			rep.Shops[i].Skipped = "no_client"
			continue
		case c.State != shop.Connected:
			rep.Shops[i].Skipped = "not_connected"
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r.shop(ctx, client, c, &rep.Shops[i])
		}()
	}
	wg.Wait()
	rep.End = r.cfg.Now()
	failed := map[order.Platform]bool{}
	if rep.LostErr != nil {
		failed[order.Shopee] = true
	}
	for _, s := range rep.Shops {
		if s.Err != nil {
			failed[s.Platform] = true
			errs = append(errs, s.Err)
		}
	}
	for p := range r.cfg.Clients {
		if !failed[p] {
			r.m.lastSuccess.WithLabelValues(string(p)).Set(float64(rep.End.Unix()))
		}
	}
	r.observeLag(ctx, rep.End)
	return rep, errors.Join(errs...)
}

// observeLag sets the watermark lag gauges from the stored connections.
func (r *Reconciler) observeLag(ctx context.Context, now time.Time) {
	conns, err := r.cfg.Shops.List(ctx, "")
	if err != nil {
		return
	}
	lag := map[order.Platform]time.Duration{}
	for _, c := range conns {
		if _, ok := r.cfg.Clients[c.Platform]; !ok || c.State != shop.Connected {
			continue
		}
		l := now.Sub(c.ReconciledUntil)
		if c.ReconciledUntil.IsZero() {
			l = r.cfg.Lookback
		}
		lag[c.Platform] = max(lag[c.Platform], l)
	}
	for p := range r.cfg.Clients {
		r.m.lag.WithLabelValues(string(p)).Set(lag[p].Seconds())
	}
}

// shop reconciles one connection into rep.
func (r *Reconciler) shop(ctx context.Context, client marketplace.Client, c shop.Connection, rep *ShopReport) {
	p := string(c.Platform)
	now := r.cfg.Now()
	rep.To = now
	rep.From = c.ReconciledUntil.Add(-r.cfg.Margin)
	if c.ReconciledUntil.IsZero() {
		rep.From = now.Add(-r.cfg.Lookback)
	}
	rep.Err = r.list(ctx, client, c, rep)
	if rep.Err == nil {
		// Every event of the window is appended: move the watermark (never
		// back, should another pass have moved it further).
		_, rep.Err = r.cfg.Shops.Update(ctx, c.Platform, c.ShopID, func(cur *shop.Connection) error {
			if cur.ReconciledUntil.Before(rep.To) {
				cur.ReconciledUntil = rep.To
			}
			return nil
		})
		if rep.Err != nil {
			rep.Err = fmt.Errorf("reconcile: %s shop %s: store watermark: %w", p, c.ShopID, rep.Err)
		}
		rep.Advanced = rep.Err == nil
	}
	if rep.Err != nil {
		r.m.errors.WithLabelValues(p).Inc()
		r.log.Warn("reconcile: shop failed; watermark kept", "platform", p, "shop_id", c.ShopID, "err", rep.Err)
	}
}

// list pages through the shop's window and publishes what it finds.
func (r *Reconciler) list(ctx context.Context, client marketplace.Client, c shop.Connection, rep *ShopReport) error {
	p := c.Platform
	sh, err := enrich.Token(ctx, client, r.cfg.Shops, c, r.cfg.Now())
	if err != nil {
		return fmt.Errorf("reconcile: %s shop %s: %w", p, c.ShopID, err)
	}
	if !rep.From.Before(rep.To) {
		return nil
	}
	cursor := ""
	for range MaxPages {
		page, err := client.Updated(ctx, sh, rep.From, rep.To, cursor)
		if err != nil {
			return fmt.Errorf("reconcile: %s shop %s: list: %w", p, c.ShopID, err)
		}
		rep.Found += len(page.Orders)
		r.m.found.WithLabelValues(string(p)).Add(float64(len(page.Orders)))
		refs, err := r.complete(ctx, client, sh, page.Orders)
		if err != nil {
			return fmt.Errorf("reconcile: %s shop %s: %w", p, c.ShopID, err)
		}
		for _, ref := range refs {
			e := r.event(c, ref, rep.To)
			dup, err := r.publish(ctx, &e)
			if errors.Is(err, order.ErrInvalidEvent) {
				// Asking again returns the same: do not hold the watermark.
				r.log.Warn("reconcile: listed order makes no valid event; skipped", "platform", p, "shop_id", c.ShopID, "err", err)
				continue
			}
			if err != nil {
				return fmt.Errorf("reconcile: %s shop %s: publish order %s: %w", p, c.ShopID, ref.OrderID, err)
			}
			r.count(p, "list", dup)
			rep.Published++
			if dup {
				rep.Duplicates++
			}
		}
		if page.Cursor == "" {
			return nil
		}
		if page.Cursor == cursor {
			return fmt.Errorf("reconcile: %s shop %s: list: the cursor did not move", p, c.ShopID)
		}
		cursor = page.Cursor
	}
	return fmt.Errorf("reconcile: %s shop %s: more than %d pages in [%s, %s)", p, c.ShopID, MaxPages,
		rep.From.UTC().Format(time.RFC3339), rep.To.UTC().Format(time.RFC3339))
}

// complete fills in the status and update time of refs whose listing
// carries none (Shopee's list names no update time) from the orders'
// details. An order listed but not returned by the detail API is left
// out: it will be listed again.
func (r *Reconciler) complete(ctx context.Context, client marketplace.Client, sh marketplace.Shop, refs []marketplace.OrderRef) ([]marketplace.OrderRef, error) {
	var ids []string
	for _, ref := range refs {
		if ref.UpdateTime.IsZero() || ref.Status == "" {
			ids = append(ids, ref.OrderID)
		}
	}
	if len(ids) == 0 {
		return refs, nil
	}
	details, err := client.Orders(ctx, sh, ids)
	if err != nil {
		return nil, fmt.Errorf("fetch listed orders: %w", err)
	}
	out := refs[:0:0]
	for _, ref := range refs {
		if ref.UpdateTime.IsZero() || ref.Status == "" {
			d, ok := details[ref.OrderID]
			if !ok {
				r.log.Info("reconcile: listed order not returned by the detail API; left for the next pass",
					"platform", sh.Platform, "shop_id", sh.ShopID, "order_id", ref.OrderID)
				continue
			}
			ref.Status, ref.UpdateTime = d.Status, d.UpdateTime
		}
		out = append(out, ref)
	}
	return out, nil
}

// event is the synthetic status event of a listed order.
func (r *Reconciler) event(c shop.Connection, ref marketplace.OrderRef, now time.Time) order.Event {
	payload, _ := json.Marshal(struct {
		Source     string    `json:"source"`
		OrderID    string    `json:"order_id"`
		Status     string    `json:"status"`
		UpdateTime time.Time `json:"update_time,omitzero"`
	}{PushType, ref.OrderID, ref.Status, ref.UpdateTime.UTC()})
	e := order.Event{
		Platform: c.Platform, ShopID: c.ShopID, OrderID: ref.OrderID,
		Kind: order.KindStatus, PushType: PushType,
		PlatformStatus: ref.Status,
		UpdateTime:     ref.UpdateTime.UTC(),
		Key:            Key(c.Platform, c.ShopID, ref.OrderID, ref.Status, ref.UpdateTime),
		ReceivedAt:     now.UTC(),
		Payload:        payload,
	}
	if ref.Status != "" {
		e.Status = r.cfg.MapStatus[c.Platform](ref.Status)
	}
	return e
}

// Key is the idempotency key of a reconciliation event: a hash of the
// order's identity, raw status and update time (to the second), so that
// finding the same state again maps to the same message id.
func Key(p order.Platform, shopID, orderID, status string, updated time.Time) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, f := range []string{string(p), shopID, orderID, status} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
	h.Write(n[:binary.PutVarint(n[:], updated.Unix())])
	return PushType + ":" + string(p) + ":" + hex.EncodeToString(h.Sum(nil)[:16])
}

// publish appends e as the gateway appends a push: message id e.Key,
// subject "<platform>.order" (or ".notice"), group e.Group(). An event
// that does not validate is an error wrapping order.ErrInvalidEvent.
func (r *Reconciler) publish(ctx context.Context, e *order.Event) (duplicate bool, err error) {
	if err := e.Validate(); err != nil {
		return false, err
	}
	data, err := e.Encode()
	if err != nil {
		return false, err
	}
	class := "order"
	if !e.Kind.IsOrder() {
		class = "notice"
	}
	res, err := r.cfg.Publisher.Publish(ctx, bus.Message{
		ID: e.Key, Subject: string(e.Platform) + "." + class, Group: e.Group(), Data: data,
	})
	if err != nil {
		return false, err
	}
	return res.Duplicate, nil
}

func (r *Reconciler) count(p order.Platform, source string, duplicate bool) {
	r.m.published.WithLabelValues(string(p), source).Inc()
	if duplicate {
		r.m.duplicates.WithLabelValues(string(p)).Inc()
	}
}

// lostPushes drains Shopee's lost-push queue: each push is parsed as the
// gateway parses a delivered one and published under the same key, then
// the page is confirmed. A page is confirmed only after all its pushes
// were published; a push that does not parse is logged and confirmed
// (it cannot be repaired by asking again).
func (r *Reconciler) lostPushes(ctx context.Context, lp LostPushes) (published int, confirmed int64, err error) {
	for range MaxLostPushPages {
		page, err := lp.LostPushes(ctx)
		if err != nil {
			return published, confirmed, fmt.Errorf("reconcile: shopee lost pushes: %w", err)
		}
		for _, push := range page.Pushes {
			e, err := shopee.Parse(push.Body(), r.cfg.Now().UTC())
			if err != nil {
				r.log.Warn("reconcile: shopee lost push does not parse; dropped", "shop_id", push.ShopID, "code", push.Code, "err", err)
				continue
			}
			dup, err := r.publish(ctx, &e)
			if errors.Is(err, order.ErrInvalidEvent) {
				r.log.Warn("reconcile: shopee lost push makes no valid event; dropped", "shop_id", push.ShopID, "code", push.Code, "err", err)
				continue
			}
			if err != nil {
				return published, confirmed, fmt.Errorf("reconcile: shopee lost push (code %d, shop %s): %w", push.Code, push.ShopID, err)
			}
			r.count(order.Shopee, "lost_push", dup)
			published++
		}
		if len(page.Pushes) > 0 && page.LastMessageID > confirmed {
			if err := lp.ConfirmLostPushes(ctx, page.LastMessageID); err != nil {
				return published, confirmed, fmt.Errorf("reconcile: shopee confirm lost pushes: %w", err)
			}
			confirmed = page.LastMessageID
		}
		if !page.HasNextPage || len(page.Pushes) == 0 {
			return published, confirmed, nil
		}
	}
	return published, confirmed, nil
}
