// Package api is the query HTTP API (orders and their history), the admin
// API (dead letters, subscriptions) and the operational endpoints
// (/healthz, /readyz, /metrics).
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/orderlane/orderlane/apitoken"
	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/httperror"
	"github.com/orderlane/orderlane/order"
)

// Config configures the API.
type Config struct {
	// Token is the configured bearer token (ORDERLANE_API_TOKEN, or the
	// one generated into the data dir); it allows every scope. Required.
	Token string
	// Tokens checks the other bearer tokens (package apitoken), each
	// allowing its own scope. Nil: Token only.
	Tokens Tokens
	// Ready reports whether the service can take pushes (stream and store
	// usable); /readyz answers 503 with its error otherwise.
	Ready func(ctx context.Context) error
	// Metrics serves /metrics; nil serves 404.
	Metrics http.Handler
	// DeadLetters serves /api/v1/deadletters (admin); nil serves 404.
	DeadLetters DeadLetters
	// Subscriptions returns the state of the running subscriptions for
	// GET /api/v1/subscriptions (admin); nil serves 404.
	Subscriptions func(ctx context.Context) []bus.Stats
	// Shops serves the shop connection routes (see shops.go); nil serves
	// 404.
	Shops Shops
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Tokens finds the stored token whose secret a request presents
// (apitoken.Store).
type Tokens interface {
	Check(secret string) (apitoken.Token, bool)
}

// API serves the query and operational endpoints.
type API struct {
	cfg       Config
	repo      order.Repository
	tokenHash [32]byte
	mux       *http.ServeMux
	log       *slog.Logger
}

// New returns the API over repo.
func New(cfg Config, repo order.Repository) (*API, error) {
	if cfg.Token == "" {
		return nil, errors.New("api: Token is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &API{cfg: cfg, repo: repo, tokenHash: sha256.Sum256([]byte(cfg.Token)), mux: http.NewServeMux(), log: cfg.Logger}
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	a.mux.HandleFunc("GET /readyz", a.ready)
	if cfg.Metrics != nil {
		a.mux.Handle("GET /metrics", cfg.Metrics)
	}
	a.mux.Handle("GET /api/v1/orders/{platform}/{shop_id}/{order_id}", a.auth(scopeRead, a.getOrder))
	a.mux.Handle("GET /api/v1/orders/{platform}/{shop_id}/{order_id}/events", a.auth(scopeRead, a.getEvents))
	a.mux.Handle("GET /api/v1/orders", a.auth(scopeRead, a.listOrders))
	if cfg.DeadLetters != nil {
		a.mux.Handle("GET /api/v1/deadletters", a.auth(scopeAdmin, a.listDeadLetters))
		a.mux.Handle("GET /api/v1/deadletters/{id}", a.auth(scopeAdmin, a.getDeadLetter))
		a.mux.Handle("POST /api/v1/deadletters/{id}/replay", a.auth(scopeAdmin, a.replayDeadLetter))
		a.mux.Handle("POST /api/v1/deadletters/replay", a.auth(scopeAdmin, a.replayDeadLetters))
		a.mux.Handle("DELETE /api/v1/deadletters/{id}", a.auth(scopeAdmin, a.discardDeadLetter))
	}
	if cfg.Subscriptions != nil {
		a.mux.Handle("GET /api/v1/subscriptions", a.auth(scopeAdmin, a.listSubscriptions))
	}
	a.routeShops()
	a.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		httperror.Write(w, http.StatusNotFound, httperror.CodeNotFound, "no API endpoint at "+r.Method+" "+r.URL.Path)
	})
	return a, nil
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// scope is what a route needs the caller's credentials to allow.
type scope int

const (
	// scopeRead: the query API (orders and their history).
	scopeRead scope = iota
	// scopeAdmin: dead letters (replay and discard change what the
	// subscriptions do) and subscription state.
	scopeAdmin
)

// token is the apitoken scope a route of scope s needs.
func (s scope) token() apitoken.Scope {
	if s == scopeAdmin {
		return apitoken.Admin
	}
	return apitoken.Read
}

// auth lets a request through to next only if authorize allows it: 401
// without a valid token, 403 with a token whose scope does not reach s.
func (a *API) auth(s scope, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		have, ok := a.authorize(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="orderlane"`)
			httperror.Write(w, http.StatusUnauthorized, httperror.CodeUnauthorized, "a valid bearer token is required")
			return
		}
		if !have.Allows(s.token()) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="orderlane", error="insufficient_scope", scope="`+string(s.token())+`"`)
			httperror.Write(w, http.StatusForbidden, httperror.CodeForbidden, "this token's scope is "+string(have)+"; "+r.URL.Path+" needs "+string(s.token()))
			return
		}
		next(w, r)
	})
}

// authorize is the one place that decides who a request is: it returns
// the scope of the bearer token presented. The configured Token is an
// admin token; the stored tokens (Config.Tokens) have their own scope.
// Both are always checked, each in constant time over SHA-256 hashes (so
// neither a token's content nor its length leaks through timing).
func (a *API) authorize(r *http.Request) (apitoken.Scope, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok = strings.TrimSpace(tok)
	got := sha256.Sum256([]byte(tok))
	admin := subtle.ConstantTimeCompare(got[:], a.tokenHash[:]) == 1
	var stored apitoken.Token
	found := false
	if a.cfg.Tokens != nil {
		stored, found = a.cfg.Tokens.Check(tok)
	}
	switch {
	case !ok:
		return "", false
	case admin:
		return apitoken.Admin, true
	case found:
		return stored.Scope, true
	}
	return "", false
}

func (a *API) ready(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.cfg.Ready(ctx); err != nil {
			httperror.Write(w, http.StatusServiceUnavailable, httperror.CodeUnavailable, err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func orderKey(r *http.Request) (order.Key, bool) {
	k := order.Key{
		Platform: order.Platform(r.PathValue("platform")),
		ShopID:   r.PathValue("shop_id"),
		OrderID:  r.PathValue("order_id"),
	}
	return k, k.Platform.Valid()
}

func (a *API) getOrder(w http.ResponseWriter, r *http.Request) {
	k, ok := orderKey(r)
	if !ok {
		httperror.Write(w, http.StatusNotFound, httperror.CodeNotFound, "unknown platform "+strconv.Quote(string(k.Platform)))
		return
	}
	o, err := a.repo.Get(r.Context(), k)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (a *API) getEvents(w http.ResponseWriter, r *http.Request) {
	k, ok := orderKey(r)
	if !ok {
		httperror.Write(w, http.StatusNotFound, httperror.CodeNotFound, "unknown platform "+strconv.Quote(string(k.Platform)))
		return
	}
	evs, err := a.repo.Events(r.Context(), k)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
}

type listResponse struct {
	Orders     []order.Order `json:"orders"`
	NextCursor string        `json:"next_cursor"`
}

func (a *API) listOrders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := order.Filter{
		Platform: order.Platform(q.Get("platform")),
		ShopID:   q.Get("shop_id"),
		Status:   order.Status(q.Get("status")),
		Cursor:   q.Get("cursor"),
	}
	bad := func(msg string) { httperror.Write(w, http.StatusBadRequest, httperror.CodeBadRequest, msg) }
	if f.Platform != "" && !f.Platform.Valid() {
		bad("platform: want shopee, lazada or tiktok")
		return
	}
	if f.Status != "" && !f.Status.Valid() {
		bad("status: not a unified status")
		return
	}
	if s := q.Get("updated_since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			bad("updated_since: want an RFC 3339 time")
			return
		}
		f.UpdatedSince = t
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			bad("limit: want 1 to 1000")
			return
		}
		f.Limit = n
	}
	p, err := a.repo.List(r.Context(), f)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, listResponse{Orders: p.Orders, NextCursor: p.NextCursor})
}

// fail maps repository errors to responses.
func (a *API) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, order.ErrNotFound):
		httperror.Write(w, http.StatusNotFound, httperror.CodeNotFound, "order not found")
	case errors.Is(err, order.ErrBadCursor):
		httperror.Write(w, http.StatusBadRequest, httperror.CodeBadRequest, "cursor: not one this API issued")
	default:
		a.log.Error("api", "err", err)
		httperror.Write(w, http.StatusInternalServerError, httperror.CodeInternal, "internal error")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
