package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/orderlane/orderlane/httperror"
	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
	"github.com/orderlane/orderlane/shop/connect"
)

// Shops is the shop connection flow the API serves (connect.Flow).
type Shops interface {
	// Begin returns the marketplace's consent page for a new connection.
	Begin(ctx context.Context, p order.Platform, shopID string) (connect.Authorization, error)
	// Complete handles the marketplace's redirect back.
	Complete(ctx context.Context, p order.Platform, cb connect.Callback) (shop.Connection, error)
	// List returns the connections of p ("" for all).
	List(ctx context.Context, p order.Platform) ([]shop.Connection, error)
	// Disconnect marks a shop Revoked.
	Disconnect(ctx context.Context, p order.Platform, shopID string) (shop.Connection, error)
}

// Codes of the connect errors, beside httperror's.
const (
	codeInvalidState    = "invalid_state"
	codeStateExpired    = "state_expired"
	codeAuthRefused     = "authorization_refused"
	codeMarketplaceFail = "marketplace_unavailable"
)

// routeShops registers the shop routes when Config.Shops is set:
//
//	POST   /api/v1/shops/connect/{platform}     (admin) the consent link;
//	       ?shop_id= names the shop (required for TikTok)
//	GET    /connect/{platform}/callback         (public) the marketplace's redirect
//	GET    /api/v1/shops                        (admin) the connections, never tokens
//	DELETE /api/v1/shops/{platform}/{shop_id}   (admin) mark a shop Revoked
//
// The callback is public (the seller's browser follows the marketplace's
// redirect): the signed state is its credential.
func (a *API) routeShops() {
	if a.cfg.Shops == nil {
		return
	}
	a.mux.Handle("POST /api/v1/shops/connect/{platform}", a.auth(scopeAdmin, a.beginConnect))
	a.mux.HandleFunc("GET /connect/{platform}/callback", a.connectCallback)
	a.mux.Handle("GET /api/v1/shops", a.auth(scopeAdmin, a.listShops))
	a.mux.Handle("DELETE /api/v1/shops/{platform}/{shop_id}", a.auth(scopeAdmin, a.disconnectShop))
}

// shopJSON is a connection on the wire: no token, only its expiry.
type shopJSON struct {
	Platform         order.Platform `json:"platform"`
	ShopID           string         `json:"shop_id"`
	Region           string         `json:"region,omitempty"`
	State            shop.State     `json:"state"`
	ConnectedAt      *time.Time     `json:"connected_at,omitempty"`
	UpdatedAt        *time.Time     `json:"updated_at,omitempty"`
	AccessExpiresAt  *time.Time     `json:"access_expires_at,omitempty"`
	RefreshExpiresAt *time.Time     `json:"refresh_expires_at,omitempty"`
	ReconciledUntil  *time.Time     `json:"reconciled_until,omitempty"`
	LastError        string         `json:"last_error,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func toShopJSON(c shop.Connection) shopJSON {
	return shopJSON{
		Platform: c.Platform, ShopID: c.ShopID, Region: c.Region, State: c.State,
		ConnectedAt: timePtr(c.ConnectedAt), UpdatedAt: timePtr(c.UpdatedAt),
		AccessExpiresAt: timePtr(c.Token.AccessExpiresAt), RefreshExpiresAt: timePtr(c.Token.RefreshExpiresAt),
		ReconciledUntil: timePtr(c.ReconciledUntil), LastError: c.LastError,
	}
}

func platformOf(w http.ResponseWriter, r *http.Request) (order.Platform, bool) {
	p := order.Platform(r.PathValue("platform"))
	if !p.Valid() {
		httperror.Write(w, http.StatusNotFound, httperror.CodeNotFound, "unknown platform "+strconv.Quote(string(p)))
		return "", false
	}
	return p, true
}

func (a *API) beginConnect(w http.ResponseWriter, r *http.Request) {
	p, ok := platformOf(w, r)
	if !ok {
		return
	}
	auth, err := a.cfg.Shops.Begin(r.Context(), p, r.URL.Query().Get("shop_id"))
	if err != nil {
		a.failShops(w, err)
		return
	}
	writeJSON(w, http.StatusOK, auth)
}

// connectCallback answers the seller's browser: a small JSON either way,
// never the code, the state or a token.
func (a *API) connectCallback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	p, ok := platformOf(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		// A seller who declines is sent back with an error and no code.
		httperror.Write(w, http.StatusBadRequest, codeAuthRefused, "the seller did not authorise the app")
		return
	}
	c, err := a.cfg.Shops.Complete(r.Context(), p, connect.Callback{Code: q.Get("code"), State: q.Get("state"), ShopID: q.Get("shop_id")})
	if err != nil {
		a.failShops(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status": "connected", "platform": c.Platform, "shop_id": c.ShopID, "region": c.Region,
		"message": "The shop is connected to orderlane. You can close this page.",
	})
}

func (a *API) listShops(w http.ResponseWriter, r *http.Request) {
	p := order.Platform(r.URL.Query().Get("platform"))
	if p != "" && !p.Valid() {
		httperror.Write(w, http.StatusBadRequest, httperror.CodeBadRequest, "platform: want shopee, lazada or tiktok")
		return
	}
	conns, err := a.cfg.Shops.List(r.Context(), p)
	if err != nil {
		a.failShops(w, err)
		return
	}
	out := make([]shopJSON, 0, len(conns))
	for _, c := range conns {
		out = append(out, toShopJSON(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"shops": out})
}

func (a *API) disconnectShop(w http.ResponseWriter, r *http.Request) {
	p, ok := platformOf(w, r)
	if !ok {
		return
	}
	c, err := a.cfg.Shops.Disconnect(r.Context(), p, r.PathValue("shop_id"))
	if err != nil {
		a.failShops(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toShopJSON(c))
}

// failShops maps the connect flow's errors to responses. Messages name
// the kind of failure only: never the code, the state or a token.
func (a *API) failShops(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, connect.ErrNotEnabled):
		httperror.Write(w, http.StatusNotFound, httperror.CodeNotConfigured, "this marketplace's API is not enabled (API credentials and ORDERLANE_TOKEN_KEY)")
	case errors.Is(err, connect.ErrStateExpired):
		httperror.Write(w, http.StatusBadRequest, codeStateExpired, "the authorisation took too long: start it again")
	case errors.Is(err, connect.ErrBadState):
		httperror.Write(w, http.StatusBadRequest, codeInvalidState, "the authorisation state is invalid")
	case errors.Is(err, connect.ErrBadCallback):
		httperror.Write(w, http.StatusBadRequest, httperror.CodeBadRequest, err.Error()) // never carries the code or the state
	case errors.Is(err, shop.ErrNotFound):
		httperror.Write(w, http.StatusNotFound, httperror.CodeNotFound, "shop not connected")
	case errors.Is(err, connect.ErrExchange) && errors.Is(err, marketplace.ErrAuth):
		a.log.Warn("shops: code exchange refused", "err", err)
		httperror.Write(w, http.StatusBadGateway, codeAuthRefused, "the marketplace refused the authorisation code")
	case errors.Is(err, order.ErrUnavailable):
		a.log.Error("shops", "err", err)
		httperror.Write(w, http.StatusServiceUnavailable, httperror.CodeUnavailable, "store unavailable")
	case errors.Is(err, connect.ErrExchange):
		a.log.Warn("shops: code exchange", "err", err)
		httperror.Write(w, http.StatusBadGateway, codeMarketplaceFail, "the marketplace did not complete the authorisation")
	default:
		a.log.Error("shops", "err", err)
		httperror.Write(w, http.StatusInternalServerError, httperror.CodeInternal, "internal error")
	}
}
