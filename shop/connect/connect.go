package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
)

// Errors of Flow.
var (
	// ErrNotEnabled: the marketplace's API is not configured.
	ErrNotEnabled = errors.New("connect: marketplace API not enabled")
	// ErrBadCallback: the callback lacks what the marketplace sends (code,
	// Shopee's shop_id) or carries it malformed.
	ErrBadCallback = errors.New("connect: malformed authorisation callback")
	// ErrExchange: the marketplace did not trade the code for tokens (it
	// refused it, failed, or its token does not cover the shop). Wrapped
	// together with the client's error.
	ErrExchange = errors.New("connect: code exchange failed")
)

// Limits on what a callback may carry (bytes).
const (
	MaxCodeLen   = 512
	MaxShopIDLen = 64
)

// AuthURLFunc builds a marketplace's authorisation link for the callback
// URL redirect and the signed state, at now.
type AuthURLFunc func(redirect, state string, now time.Time) string

// Marketplace is one enabled marketplace: its API client and its
// authorisation link.
type Marketplace struct {
	Client  marketplace.Client
	AuthURL AuthURLFunc
}

// Config configures a Flow.
type Config struct {
	// Marketplaces are the enabled marketplaces.
	Marketplaces map[order.Platform]Marketplace
	// Store keeps the connections.
	Store shop.Store
	// States signs and checks the redirect's state.
	States *States
	// CallbackBase returns the scheme and host the seller's browser
	// reaches this server at; the callback is CallbackBase() +
	// "/connect/{platform}/callback". Required.
	CallbackBase func() string
	// Now defaults to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Flow runs the connection of shops. It is safe for concurrent use.
type Flow struct{ cfg Config }

// New returns a Flow for cfg.
func New(cfg Config) (*Flow, error) {
	if cfg.Store == nil || cfg.States == nil || cfg.CallbackBase == nil {
		return nil, errors.New("connect: Store, States and CallbackBase are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Flow{cfg: cfg}, nil
}

// CallbackURL is the URL the marketplace redirects the seller to.
func (f *Flow) CallbackURL(p order.Platform) string {
	return f.cfg.CallbackBase() + "/connect/" + string(p) + "/callback"
}

// Authorization is where to send the seller to connect a shop.
type Authorization struct {
	Platform order.Platform `json:"platform"`
	// URL is the marketplace's consent page.
	URL string `json:"authorize_url"`
	// ExpiresAt is when the callback stops accepting its state (Shopee's
	// link itself is valid for 5 minutes).
	ExpiresAt time.Time `json:"expires_at"`
	// CallbackURL is where the marketplace sends the seller back: it must
	// be the one registered in the Lazada and TikTok consoles.
	CallbackURL string `json:"callback_url"`
}

// Begin starts connecting a shop of p: the link to the marketplace's
// consent page, carrying a fresh signed state. shopID names the shop to
// connect, as its pushes carry it; the state keeps it, and the callback
// connects that shop only. Optional: TikTok's redirect names no shop, and
// without one the client takes the only shop the token covers.
func (f *Flow) Begin(_ context.Context, p order.Platform, shopID string) (Authorization, error) {
	m, ok := f.cfg.Marketplaces[p]
	if !ok {
		return Authorization{}, fmt.Errorf("%w: %s", ErrNotEnabled, p)
	}
	state, exp, err := f.cfg.States.Issue(p, shopID)
	if err != nil {
		return Authorization{}, err
	}
	cb := f.CallbackURL(p)
	return Authorization{Platform: p, URL: m.AuthURL(cb, state, f.cfg.Now()), ExpiresAt: exp, CallbackURL: cb}, nil
}

// Callback is what the marketplace's redirect carries.
type Callback struct {
	Code  string
	State string
	// ShopID is Shopee's shop_id; Lazada and TikTok send none (the token
	// names the seller, or the client asks the shops API).
	ShopID string
}

// Complete checks the callback's state (ErrBadState, ErrStateExpired),
// trades its code for the shop's tokens with the marketplace's client and
// stores the connection as Connected, keeping the reconciliation
// watermark of a shop connected before. A failed exchange wraps
// ErrExchange and the client's error (*marketplace.APIError, errors.Is
// marketplace.ErrAuth and the other kinds).
func (f *Flow) Complete(ctx context.Context, p order.Platform, cb Callback) (shop.Connection, error) {
	m, ok := f.cfg.Marketplaces[p]
	if !ok {
		return shop.Connection{}, fmt.Errorf("%w: %s", ErrNotEnabled, p)
	}
	named, err := f.cfg.States.Check(p, cb.State)
	if err != nil {
		return shop.Connection{}, err
	}
	if cb.Code == "" || len(cb.Code) > MaxCodeLen {
		return shop.Connection{}, fmt.Errorf("%w: code missing or longer than %d bytes", ErrBadCallback, MaxCodeLen)
	}
	want := marketplace.Shop{Platform: p, ShopID: named}
	if p == order.Shopee {
		if !digits(cb.ShopID, MaxShopIDLen) {
			return shop.Connection{}, fmt.Errorf("%w: shop_id missing or not a number", ErrBadCallback)
		}
		if named != "" && named != cb.ShopID {
			return shop.Connection{}, fmt.Errorf("%w: the seller authorised another shop than the one named", ErrBadCallback)
		}
		want.ShopID = cb.ShopID
	}
	got, err := m.Client.ExchangeCode(ctx, cb.Code, want)
	if err != nil {
		return shop.Connection{}, fmt.Errorf("%w: %s: %w", ErrExchange, p, err)
	}
	got.Platform = p
	if named != "" && got.ShopID != named {
		return shop.Connection{}, fmt.Errorf("%w: the seller authorised another shop than the one named", ErrBadCallback)
	}
	now := f.cfg.Now().UTC()
	c := shop.Connection{Shop: got, State: shop.Connected, ConnectedAt: now}
	if old, err := f.cfg.Store.Get(ctx, p, got.ShopID); err == nil {
		c.ReconciledUntil = old.ReconciledUntil
	} else if !errors.Is(err, shop.ErrNotFound) && !errors.Is(err, shop.ErrBadSeal) {
		return shop.Connection{}, fmt.Errorf("connect: %s/%s: %w", p, got.ShopID, err)
	}
	if err := f.cfg.Store.Put(ctx, c); err != nil {
		return shop.Connection{}, fmt.Errorf("connect: %s/%s: store: %w", p, got.ShopID, err)
	}
	f.cfg.Logger.Info("shop connected", "platform", p, "shop_id", got.ShopID, "region", got.Region,
		"access_expires_at", got.Token.AccessExpiresAt)
	return c, nil
}

// List returns the connections of p ("" for all).
func (f *Flow) List(ctx context.Context, p order.Platform) ([]shop.Connection, error) {
	return f.cfg.Store.List(ctx, p)
}

// Disconnect marks a shop Revoked here (the seller still has to cancel
// the authorisation at the marketplace): enrichment and reconciliation
// stop for it. shop.ErrNotFound for an unknown shop.
func (f *Flow) Disconnect(ctx context.Context, p order.Platform, shopID string) (shop.Connection, error) {
	return f.cfg.Store.Update(ctx, p, shopID, func(c *shop.Connection) error {
		c.State = shop.Revoked
		c.LastError = "disconnected by an administrator"
		return nil
	})
}

func digits(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
