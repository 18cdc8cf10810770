// Package tiktoksim is a faithful fake of TikTok Shop (API version 202309)
// over a sandbox.Sale: the token endpoints of the auth host, the Open API
// endpoints orderlane calls (authorised shops, Get Order Detail, Search
// Orders), and the signed webhooks that a change of an order sets off.
//
// Requests are checked as TikTok checks them: app_key, the sign
// (HMAC-SHA256 over the path, the sorted query and the body, recomputed with
// the app secret and compared in constant time), a timestamp within five
// minutes, the x-tts-access-token header and the shop_cipher, and a rate
// limit per API path and shop. Failures answer in TikTok's error envelope
// {code, message, request_id, data} with TikTok's codes.
package tiktoksim

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/internal/simwire"
)

// Config tunes a Sim.
type Config struct {
	// RatePerSecond and Burst are the rate limit per API path and shop
	// (a token bucket). Default to 50 per second, as TikTok documents, and
	// a burst of RatePerSecond; a negative RatePerSecond turns it off.
	RatePerSecond float64
	Burst         int
	// MaxSkew is how far a request's timestamp may be from Clock.
	// Defaults to 5 minutes.
	MaxSkew time.Duration
	// Clock is TikTok's real clock, against which request timestamps are
	// checked, and for nothing else: tokens, visibility and update times
	// follow the sale's (simulated) clock. Defaults to time.Now.
	Clock func() time.Time
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.RatePerSecond == 0 {
		c.RatePerSecond = 50
	}
	if c.Burst <= 0 {
		c.Burst = max(1, int(math.Ceil(c.RatePerSecond)))
	}
	if c.MaxSkew <= 0 {
		c.MaxSkew = 5 * time.Minute
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

// maxBody bounds a request body the sim reads.
const maxBody = 1 << 20

// forgetAfter is how long after its expiry the sim still answers "expired"
// (105002) rather than "invalid" (105001) for a token.
const forgetAfter = 7 * 24 * time.Hour

// Sim is TikTok Shop over a Sale. It is safe for concurrent use.
type Sim struct {
	sale *sandbox.Sale
	cfg  Config

	limits *simwire.Limits

	mu sync.Mutex
	// expiry remembers when the access tokens this sim issued expire, to
	// tell an expired token (105002) from an unknown one (105001).
	expiry map[string]time.Time

	seq atomic.Uint64 // webhook notification ids
}

var _ sandbox.Marketplace = (*Sim)(nil)

// New returns a Sim serving sale.
func New(sale *sandbox.Sale, cfg Config) *Sim {
	cfg = cfg.WithDefaults()
	s := &Sim{sale: sale, cfg: cfg, limits: simwire.NewLimits(cfg.RatePerSecond, cfg.Burst), expiry: map[string]time.Time{}}
	// Notification ids are unique across fakes and runs, as TikTok's are:
	// a receiver that keeps its data must not take a new run's webhook
	// for one it has seen.
	var b [8]byte
	_, _ = rand.Read(b[:])
	s.seq.Store(binary.BigEndian.Uint64(b[:]) % notificationSpread)
	return s
}

// Platform returns order.TikTok.
func (s *Sim) Platform() order.Platform { return order.TikTok }

// Handler serves the auth host's token endpoints and the Open API on one
// handler: point both the client's BaseURL and AuthBaseURL at it.
func (s *Sim) Handler() http.Handler {
	return http.HandlerFunc(s.serve)
}

func (s *Sim) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == tiktok.PathTokenGet:
		s.grant(w, r, "authorized_code", "auth_code", s.sale.Exchange)
	case r.Method == http.MethodGet && r.URL.Path == tiktok.PathTokenRefresh:
		s.grant(w, r, "refresh_token", "refresh_token", s.sale.Refresh)
	case r.Method == http.MethodGet && r.URL.Path == tiktok.PathShops:
		if c, ok := s.authenticate(w, r, false); ok {
			s.shops(w, c)
		}
	case r.Method == http.MethodGet && r.URL.Path == tiktok.PathOrderDetail:
		if c, ok := s.authenticate(w, r, true); ok {
			s.detail(w, r, c)
		}
	case r.Method == http.MethodPost && r.URL.Path == tiktok.PathOrderSearch:
		if c, ok := s.authenticate(w, r, true); ok {
			s.search(w, r, c)
		}
	default:
		s.fail(w, http.StatusNotFound, codeInvalidPath, "Invalid path. The requested API path does not exist.")
	}
}

// Error codes beyond those the client package names.
const (
	codeInvalidPath = 36009009
)

// call is an authenticated Open API request.
type call struct {
	shop sandbox.Shop
	body []byte
}

// authenticate runs TikTok's checks on an Open API request, in the
// gateway's order: app_key, sign present, timestamp, body, sign, access
// token, shop_cipher, rate limit. It answers a failure itself.
func (s *Sim) authenticate(w http.ResponseWriter, r *http.Request, needCipher bool) (call, bool) {
	app, ok := s.sale.App(order.TikTok)
	q := r.URL.Query()
	if !ok || q.Get("app_key") != app.Key || len(q["app_key"]) != 1 {
		s.fail(w, http.StatusBadRequest, tiktok.CodeInvalidParam, "Invalid credentials. Invalid `app_key` query parameter.")
		return call{}, false
	}
	sign := q.Get("sign")
	if sign == "" {
		s.fail(w, http.StatusUnauthorized, tiktok.CodeInvalidParam, "Missing credentials. The request does not include a required signature in the query.")
		return call{}, false
	}
	ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if err != nil || ts < 0 {
		s.fail(w, http.StatusUnauthorized, tiktok.CodeInvalidParam, "Invalid timestamp. The value of the `timestamp` query parameter must not be lesser than 0.")
		return call{}, false
	}
	if skew := s.cfg.Clock().Sub(time.Unix(ts, 0)); skew > s.cfg.MaxSkew || skew < -s.cfg.MaxSkew {
		s.fail(w, http.StatusUnauthorized, tiktok.CodeInvalidParam, "Invalid timestamp. The value of the `timestamp` query parameter must not be earlier than 5 minutes before the current time.")
		return call{}, false
	}
	var body []byte
	if r.Method == http.MethodPost {
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			s.fail(w, http.StatusBadRequest, tiktok.CodeInvalidParam, "Invalid content-type. The request body must be application/json.")
			return call{}, false
		}
		body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(body) > maxBody {
			s.fail(w, http.StatusBadRequest, tiktok.CodeInvalidParam, "Invalid request body.")
			return call{}, false
		}
	}
	want := tiktok.SignAPI([]byte(app.Secret), r.URL.Path, q, body)
	if !hmac.Equal([]byte(strings.ToLower(sign)), []byte(want)) {
		s.fail(w, http.StatusUnauthorized, tiktok.CodeSignInvalid, "Invalid credentials. The 'sign' query parameter is invalid.")
		return call{}, false
	}
	token := r.Header.Get(tiktok.HeaderAccessToken)
	if token == "" {
		s.fail(w, http.StatusUnauthorized, tiktok.CodeInvalidParam, "Invalid credentials. The `x-tts-access-token` header is invalid.")
		return call{}, false
	}
	shop, ok := s.sale.Authorize(order.TikTok, token)
	if !ok {
		s.mu.Lock()
		exp, known := s.expiry[token]
		s.mu.Unlock()
		if known && !s.sale.Now().Before(exp) {
			s.fail(w, http.StatusUnauthorized, tiktok.CodeTokenExpired, "Expired credentials. The access token has expired; refresh it.")
		} else {
			s.fail(w, http.StatusUnauthorized, tiktok.CodeTokenInvalid, "Invalid credentials. The access token is invalid.")
		}
		return call{}, false
	}
	cipher := q.Get("shop_cipher")
	switch {
	case needCipher && cipher == "":
		s.fail(w, http.StatusBadRequest, tiktok.CodeNoShopCipher, "Missing identifier. The `shop_cipher` query parameter is required for this request.")
		return call{}, false
	case needCipher && cipher != shop.Cipher:
		s.fail(w, http.StatusBadRequest, tiktok.CodeInvalidParam, "Invalid identifier. The `shop_cipher` query parameter is invalid.")
		return call{}, false
	case !needCipher && cipher != "":
		s.fail(w, http.StatusBadRequest, tiktok.CodeInvalidParam, "Unexpected identifier. The `shop_cipher` query parameter is not required for this request.")
		return call{}, false
	}
	if !s.limits.Allow(r.URL.Path + "|" + shop.ShopID) { // real time: it paces requests
		s.fail(w, http.StatusTooManyRequests, tiktok.CodeRateLimited, "Too many requests. You've made too many requests in a short period of time.")
		return call{}, false
	}
	return call{shop: shop, body: body}, true
}

// grant serves a token endpoint: GET /api/v2/token/get (grant_type
// authorized_code, the code in auth_code) and /api/v2/token/refresh
// (grant_type refresh_token, the token in refresh_token); trade is the
// sale's Exchange or Refresh.
func (s *Sim) grant(w http.ResponseWriter, r *http.Request, grantType, param string,
	trade func(order.Platform, string) (sandbox.Shop, marketplace.Token, bool)) {
	q := r.URL.Query()
	if !s.appCredentials(w, q.Get("app_key"), q.Get("app_secret")) {
		return
	}
	if q.Get("grant_type") != grantType || q.Get(param) == "" {
		s.fail(w, http.StatusOK, tiktok.CodeInvalidParam, "Invalid parameters. grant_type must be "+grantType+" and "+param+" is required.")
		return
	}
	shop, tok, ok := trade(order.TikTok, q.Get(param))
	if !ok {
		s.fail(w, http.StatusOK, tiktok.CodeAuthNotFound, "can not find related auth record")
		return
	}
	s.issued(w, shop, tok.AccessToken, tok.RefreshToken, tok.AccessExpiresAt, tok.RefreshExpiresAt)
}

// appCredentials checks the app_key and app_secret the token endpoints
// take in the query.
func (s *Sim) appCredentials(w http.ResponseWriter, key, secret string) bool {
	app, ok := s.sale.App(order.TikTok)
	if !ok || key != app.Key || !hmac.Equal([]byte(secret), []byte(app.Secret)) || secret == "" {
		s.fail(w, http.StatusOK, tiktok.CodeInvalidParam, "Invalid credentials. Invalid `app_key` or `app_secret` query parameter.")
		return false
	}
	return true
}

func (s *Sim) issued(w http.ResponseWriter, shop sandbox.Shop, access, refresh string, accessExp, refreshExp time.Time) {
	s.mu.Lock()
	for tok, exp := range s.expiry { // forget tokens long expired
		if s.sale.Now().Sub(exp) > forgetAfter {
			delete(s.expiry, tok)
		}
	}
	s.expiry[access] = accessExp
	s.mu.Unlock()
	s.ok(w, map[string]any{
		"access_token":            access,
		"access_token_expire_in":  accessExp.Unix(), // a Unix time, despite the name
		"refresh_token":           refresh,
		"refresh_token_expire_in": refreshExp.Unix(),
		"open_id":                 "open_" + shop.ShopID,
		"seller_name":             "Sandbox seller " + shop.ShopID,
		"seller_base_region":      shop.Region,
		"user_type":               0,
		"granted_scopes":          []string{"seller.authorization.info", "seller.order.info"},
	})
}

// shops serves GET /authorization/202309/shops: the token's shop.
func (s *Sim) shops(w http.ResponseWriter, c call) {
	s.ok(w, map[string]any{"shops": []map[string]any{{
		"id": c.shop.ShopID, "name": "Sandbox shop " + c.shop.ShopID, "region": c.shop.Region,
		"seller_type": "LOCAL", "cipher": c.shop.Cipher, "code": "SANDBOX" + c.shop.ShopID,
	}}})
}

// detail serves GET /order/202309/orders?ids=: the visible orders of the
// shop among ids, in the order asked; others are absent.
func (s *Sim) detail(w http.ResponseWriter, r *http.Request, c call) {
	ids := strings.Split(r.URL.Query().Get("ids"), ",")
	if len(ids) > tiktok.MaxDetailIDs || (len(ids) == 1 && ids[0] == "") {
		s.fail(w, http.StatusBadRequest, tiktok.CodeInvalidParam, "Invalid parameters. ids must hold 1 to 50 order ids.")
		return
	}
	orders := make([]wireOrder, 0, len(ids))
	for _, id := range ids {
		if id == "" {
			s.fail(w, http.StatusBadRequest, tiktok.CodeInvalidParam, "Invalid parameters. An order id in ids is empty.")
			return
		}
		if o, ok := s.sale.Order(order.Key{Platform: order.TikTok, ShopID: c.shop.ShopID, OrderID: id}); ok {
			orders = append(orders, render(&o))
		}
	}
	s.ok(w, map[string]any{"orders": orders})
}

// pageToken is the opaque next_page_token: where the next page starts, and
// the query it belongs to.
type pageToken struct {
	Offset int   `json:"o"`
	GE     int64 `json:"ge"`
	LT     int64 `json:"lt"`
}

// search serves POST /order/202309/orders/search, sorted by update_time
// ascending (the sort orderlane asks for; others are refused).
func (s *Sim) search(w http.ResponseWriter, r *http.Request, c call) {
	q := r.URL.Query()
	size, err := strconv.Atoi(q.Get("page_size"))
	if err != nil || size < 1 || size > tiktok.MaxPageSize {
		s.fail(w, http.StatusBadRequest, tiktok.CodeInvalidParam, "Invalid parameters. page_size must be 1 to 100.")
		return
	}
	if sf := q.Get("sort_field"); sf != "" && sf != "update_time" {
		s.fail(w, http.StatusBadRequest, tiktok.CodeInvalidParam, "Invalid parameters. The sandbox sorts by update_time only.")
		return
	}
	if so := q.Get("sort_order"); so != "" && so != "ASC" {
		s.fail(w, http.StatusBadRequest, tiktok.CodeInvalidParam, "Invalid parameters. The sandbox sorts ASC only.")
		return
	}
	var f struct {
		GE *int64 `json:"update_time_ge"`
		LT *int64 `json:"update_time_lt"`
	}
	if len(c.body) > 0 {
		if err := json.Unmarshal(c.body, &f); err != nil {
			s.fail(w, http.StatusBadRequest, tiktok.CodeInvalidParam, "Invalid parameters. The request body is not valid JSON.")
			return
		}
	}
	tok := pageToken{GE: 0, LT: math.MaxInt32}
	if f.GE != nil {
		tok.GE = *f.GE
	}
	if f.LT != nil {
		tok.LT = *f.LT
	}
	if pt := q.Get("page_token"); pt != "" {
		var got pageToken
		if !decodePageToken(pt, &got) || got.GE != tok.GE || got.LT != tok.LT || got.Offset < 0 {
			s.fail(w, http.StatusBadRequest, tiktok.CodeInvalidParam, "Invalid parameters. page_token is invalid.")
			return
		}
		tok.Offset = got.Offset
	}
	all := s.sale.UpdatedBetween(order.TikTok, c.shop.ShopID, time.Unix(tok.GE, 0), time.Unix(tok.LT, 0))
	start := min(tok.Offset, len(all))
	end := min(start+size, len(all))
	orders := make([]wireOrder, 0, end-start)
	for i := start; i < end; i++ {
		orders = append(orders, render(&all[i]))
	}
	next := ""
	if end < len(all) {
		next = encodePageToken(pageToken{Offset: end, GE: tok.GE, LT: tok.LT})
	}
	s.ok(w, map[string]any{"orders": orders, "next_page_token": next, "total_count": len(all)})
}

// envelope is every answer: {code, message, request_id, data}.
type envelope struct {
	Code      int    `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
	Data      any    `json:"data"`
}

func (s *Sim) ok(w http.ResponseWriter, data any) {
	s.write(w, http.StatusOK, envelope{Code: 0, Message: "Success", RequestID: s.requestID(), Data: data})
}

func (s *Sim) fail(w http.ResponseWriter, status, code int, msg string) {
	s.write(w, status, envelope{Code: code, Message: msg, RequestID: s.requestID()})
}

func (s *Sim) write(w http.ResponseWriter, status int, e envelope) {
	b, err := json.Marshal(e)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// requestID looks like TikTok's: a UTC timestamp and 18 hex digits.
func (s *Sim) requestID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return s.sale.Now().UTC().Format("20060102150405") + strings.ToUpper(hex.EncodeToString(b[:]))
}

var errNoApp = errors.New("tiktoksim: the sale has no TikTok app")
