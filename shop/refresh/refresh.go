// Package refresh renews connected shops' access tokens before they
// expire. A round lists the connections, and for each Connected shop
// whose access token expires within Before asks its marketplace for a new
// token and stores it. A refusal (marketplace.ErrAuth: the refresh token
// is expired, used or revoked) marks the shop Expired with the reason in
// LastError, so enrichment and reconciliation pause until the seller
// authorises again; any other failure is kept in LastError and retried
// next round.
package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
)

// Outcomes of one shop's refresh, as the metric labels them.
const (
	OutcomeRefreshed = "refreshed" // a new token is stored
	OutcomeExpired   = "expired"   // refused: the shop is now Expired
	OutcomeFailed    = "failed"    // a temporary failure: retried next round
)

// Config configures a Refresher.
type Config struct {
	// Store keeps the connections. Required.
	Store shop.Store
	// Clients are the enabled marketplaces' API clients; shops of other
	// marketplaces are left alone.
	Clients map[order.Platform]marketplace.Client
	// Before is how long before expiry a token is renewed. Defaults to
	// 30 minutes.
	Before time.Duration
	// Every is the time between rounds. Defaults to 1 minute.
	Every time.Duration
	// Timeout bounds one shop's refresh. Defaults to 30 s.
	Timeout time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer, if set, gets the metrics:
	// orderlane_token_refreshes_total{platform,outcome} and
	// orderlane_shops{platform,state}.
	Registerer prometheus.Registerer
}

// Refresher renews tokens in rounds. It is safe for concurrent use.
type Refresher struct {
	cfg     Config
	count   *prometheus.CounterVec
	shops   *prometheus.GaugeVec
	stop    chan struct{}
	done    chan struct{}
	stopped sync.Once
	started bool
}

// New returns a Refresher for cfg.
func New(cfg Config) (*Refresher, error) {
	if cfg.Store == nil {
		return nil, errors.New("refresh: Store is required")
	}
	if cfg.Before <= 0 {
		cfg.Before = 30 * time.Minute
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Refresher{
		cfg: cfg,
		count: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderlane_token_refreshes_total",
			Help: "Shop access token refreshes, by platform and outcome (refreshed, expired, failed).",
		}, []string{"platform", "outcome"}),
		shops: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "orderlane_shops",
			Help: "Connected shops by platform and connection state (connected, expired, revoked), as of the last refresh round.",
		}, []string{"platform", "state"}),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(r.count); err != nil {
			return nil, fmt.Errorf("refresh: metrics: %w", err)
		}
		if err := cfg.Registerer.Register(r.shops); err != nil {
			return nil, fmt.Errorf("refresh: metrics: %w", err)
		}
	}
	return r, nil
}

// Start runs a round at once, then every Every, until Stop.
func (r *Refresher) Start() {
	r.started = true
	go func() {
		defer close(r.done)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-r.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		r.Run(ctx)
	}()
}

// Run runs a round at once, then every Every, until ctx ends (for a
// caller that owns the loop, such as a singleton lease).
func (r *Refresher) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Every)
	defer t.Stop()
	for {
		r.Round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Stop ends the rounds (a refresh in flight is cancelled) and waits for
// them to return. It may be called more than once, and without Start.
func (r *Refresher) Stop() {
	r.stopped.Do(func() { close(r.stop) })
	if r.started {
		<-r.done
	}
}

// Round refreshes every Connected shop whose token is due and returns
// how many shops ended in each outcome.
func (r *Refresher) Round(ctx context.Context) map[string]int {
	out := map[string]int{}
	conns, err := r.cfg.Store.List(ctx, "")
	if err != nil {
		r.cfg.Logger.Warn("token refresh: list shops", "err", err)
		return out
	}
	counts := map[[2]string]float64{}
	for _, c := range conns {
		if ctx.Err() != nil {
			return out
		}
		state := c.State
		if c.State == shop.Connected && r.due(c) {
			if client, ok := r.cfg.Clients[c.Platform]; ok {
				o, now := r.refresh(ctx, client, c)
				out[o]++
				r.count.WithLabelValues(string(c.Platform), o).Inc()
				state = now
			}
		}
		counts[[2]string{string(c.Platform), string(state)}]++
	}
	r.shops.Reset()
	for k, n := range counts {
		r.shops.WithLabelValues(k[0], k[1]).Set(n)
	}
	return out
}

// due reports whether c's access token expires within Before.
func (r *Refresher) due(c shop.Connection) bool {
	return c.Token.AccessExpiresAt.Sub(r.cfg.Now()) < r.cfg.Before
}

// refresh renews one shop's token and records the result; it returns the
// outcome and the shop's state after it.
func (r *Refresher) refresh(ctx context.Context, client marketplace.Client, c shop.Connection) (string, shop.State) {
	log := r.cfg.Logger.With("platform", c.Platform, "shop_id", c.ShopID)
	used := c.Token.RefreshToken
	var err error
	var tok marketplace.Token
	if !c.Token.RefreshExpiresAt.IsZero() && !r.cfg.Now().Before(c.Token.RefreshExpiresAt) {
		err = fmt.Errorf("refresh token expired at %s: %w", c.Token.RefreshExpiresAt.UTC().Format(time.RFC3339), marketplace.ErrAuth)
	} else {
		cctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		tok, err = client.Refresh(cctx, c.Shop)
		cancel()
	}
	if err == nil {
		_, err := r.cfg.Store.Update(ctx, c.Platform, c.ShopID, func(s *shop.Connection) error {
			s.Token = tok
			s.LastError = ""
			if s.State == shop.Expired {
				// Another process's refresh lost the race against ours
				// and took the refusal for an expiry: the new token says
				// otherwise. (Revoked stays: the seller said so.)
				s.State = shop.Connected
			}
			return nil
		})
		if err != nil {
			// The marketplace has already retired the old token: the new
			// one is lost, and the next round's refresh is refused.
			log.Error("token refresh: store the new token", "err", err)
			return OutcomeFailed, c.State
		}
		log.Info("token refreshed", "access_expires_at", tok.AccessExpiresAt)
		return OutcomeRefreshed, shop.Connected
	}
	if ctx.Err() != nil {
		return OutcomeFailed, c.State
	}
	// fn runs in the store's writer and may outlive Update when ctx ends:
	// it only reads what is fixed before the call and edits its argument.
	refused := errors.Is(err, marketplace.ErrAuth)
	msg := "token refresh: " + err.Error()
	after, uerr := r.cfg.Store.Update(ctx, c.Platform, c.ShopID, func(s *shop.Connection) error {
		if s.Token.RefreshToken != used {
			// Another process refreshed the shop meanwhile: the refusal
			// was of the token it replaced.
			return errSuperseded
		}
		s.LastError = msg
		if refused {
			s.State = shop.Expired
		}
		return nil
	})
	switch {
	case errors.Is(uerr, errSuperseded):
		return OutcomeFailed, shop.Connected
	case uerr != nil:
		log.Error("token refresh: record the failure", "err", uerr)
		after.State = c.State
	}
	if refused {
		log.Warn("token refresh refused: the shop must be authorised again", "err", err)
		return OutcomeExpired, after.State
	}
	log.Warn("token refresh failed; retried next round", "err", err)
	return OutcomeFailed, after.State
}

var errSuperseded = errors.New("refresh: token superseded")
