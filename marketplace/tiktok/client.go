package tiktok

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/internal/apiwire"
	"github.com/orderlane/orderlane/order"
)

// Hosts and paths of the TikTok Shop Open API (version 202309).
const (
	// DefaultBaseURL is the Open API's production host.
	DefaultBaseURL = "https://open-api.tiktokglobalshop.com"
	// DefaultAuthBaseURL is the host that issues and refreshes tokens.
	DefaultAuthBaseURL = "https://auth.tiktok-shops.com"

	PathTokenGet     = "/api/v2/token/get"     //nolint:gosec // G101: a URL path, not a credential
	PathTokenRefresh = "/api/v2/token/refresh" //nolint:gosec // G101: a URL path, not a credential
	PathShops        = "/authorization/202309/shops"
	PathOrderDetail  = "/order/202309/orders"
	PathOrderSearch  = "/order/202309/orders/search"

	// HeaderAccessToken carries the shop's access token on every Open API
	// request (it is not a query parameter, and the sign does not cover it).
	HeaderAccessToken = "x-tts-access-token" //nolint:gosec // G101: a header name, not a credential
)

// Batch and page limits of the Open API.
const (
	// MaxDetailIDs is how many order ids one Get Order Detail takes.
	MaxDetailIDs = 50
	// MaxPageSize is the largest page Search Orders returns.
	MaxPageSize = 100
	// maxOrderIDLen bounds an order id the client sends.
	maxOrderIDLen = 64
	// maxCodeLen bounds an authorisation code.
	maxCodeLen = 1024
)

// Client defaults.
const (
	// DefaultRatePerSecond keeps a client under the marketplace's 50
	// requests per second per API path and shop.
	DefaultRatePerSecond = 50
	// DefaultBurst is the client's default burst per API path and shop:
	// small, so that a burst plus the steady rate never exceeds what the
	// marketplace's own bucket allows.
	DefaultBurst = 10
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// AppKey and AppSecret are the app's credentials from the Partner
	// Center. Both are required; the secret never appears in errors.
	AppKey    string
	AppSecret string
	// BaseURL is the Open API host. Defaults to DefaultBaseURL.
	BaseURL string
	// AuthBaseURL is the token host. Defaults to DefaultAuthBaseURL.
	AuthBaseURL string
	// HTTP sends the requests. Defaults to a client with a 15 s timeout.
	HTTP *http.Client
	// RatePerSecond and Burst limit requests per API path and shop on
	// this side. Default to DefaultRatePerSecond and DefaultBurst; a
	// negative RatePerSecond turns the limit off.
	RatePerSecond float64
	Burst         int
	// MaxAttempts is how often a request is sent at most when it meets a
	// 429, a 5xx or a connection failure. Defaults to 4.
	MaxAttempts int
	// BackoffMin and BackoffMax bound the backoff between attempts.
	// Default to 200 ms and 5 s.
	BackoffMin, BackoffMax time.Duration
	// Now gives the request timestamps and Detail.FetchedAt. Defaults to
	// time.Now.
	Now func() time.Time
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c ClientConfig) WithDefaults() ClientConfig {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.AuthBaseURL == "" {
		c.AuthBaseURL = DefaultAuthBaseURL
	}
	if c.RatePerSecond == 0 {
		c.RatePerSecond = DefaultRatePerSecond
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = apiwire.DefaultMaxAttempts
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate names the first bad field.
func (c ClientConfig) Validate() error {
	switch {
	case c.AppKey == "" || !tokenText(c.AppKey):
		return errors.New("tiktok client: AppKey is empty or not printable ASCII")
	case c.AppSecret == "":
		return errors.New("tiktok client: AppSecret is empty")
	}
	for name, raw := range map[string]string{"BaseURL": c.BaseURL, "AuthBaseURL": c.AuthBaseURL} {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
			return fmt.Errorf("tiktok client: %s %q is not an http(s) base URL", name, raw)
		}
	}
	return nil
}

// Client is the TikTok Shop Open API (version 202309) as orderlane uses
// it. It is safe for concurrent use.
type Client struct {
	cfg    ClientConfig
	secret []byte
	doer   *apiwire.Doer
}

var _ marketplace.Client = (*Client)(nil)

// NewClient returns a Client for cfg (defaults applied).
func NewClient(cfg ClientConfig) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	cfg.AuthBaseURL = strings.TrimRight(cfg.AuthBaseURL, "/")
	var limits *apiwire.Limiters
	if cfg.RatePerSecond > 0 {
		limits = apiwire.NewLimiters(cfg.RatePerSecond, cfg.Burst)
	}
	return &Client{cfg: cfg, secret: []byte(cfg.AppSecret), doer: &apiwire.Doer{
		HTTP: cfg.HTTP, Limits: limits, MaxAttempts: cfg.MaxAttempts,
		BackoffMin: cfg.BackoffMin, BackoffMax: cfg.BackoffMax,
	}}, nil
}

// Platform returns order.TikTok.
func (c *Client) Platform() order.Platform { return order.TikTok }

// SignAPI returns the sign of an Open API request: lowercase hex
// HMAC-SHA256(appSecret, appSecret + path + k1v1k2v2... + body + appSecret),
// where the k/v pairs are the query parameters other than sign and
// access_token, sorted by name (a repeated parameter contributes each of
// its values in order), and body is the raw request body (nil for GET and
// for multipart uploads, which the sign does not cover).
func SignAPI(appSecret []byte, path string, query url.Values, body []byte) string {
	keys := make([]string, 0, len(query))
	for k := range query {
		if k != "sign" && k != "access_token" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	m := hmac.New(sha256.New, appSecret)
	m.Write(appSecret)
	m.Write([]byte(path))
	for _, k := range keys {
		for _, v := range query[k] {
			m.Write([]byte(k))
			m.Write([]byte(v))
		}
	}
	m.Write(body)
	m.Write(appSecret)
	return hex.EncodeToString(m.Sum(nil))
}

// ExchangeCode trades the authorisation code of the seller's consent for
// tokens (GET {auth}/api/v2/token/get), then looks the shop up in the
// shops the token may act for (/authorization/202309/shops) to learn its
// shop_cipher and region. shop.ShopID, the id the pushes carry, names the
// shop when the seller may have authorised several; empty, the token must
// cover exactly one shop (TikTok's callback names none), which it returns.
// A token that does not cover the named shop is an error.
func (c *Client) ExchangeCode(ctx context.Context, code string, shop marketplace.Shop) (marketplace.Shop, error) {
	if code == "" || len(code) > maxCodeLen || !tokenText(code) {
		return marketplace.Shop{}, errors.New("tiktok: authorisation code is empty, too long or not printable ASCII")
	}
	q := url.Values{"app_key": {c.cfg.AppKey}, "app_secret": {c.cfg.AppSecret},
		"auth_code": {code}, "grant_type": {"authorized_code"}}
	tok, err := c.token(ctx, PathTokenGet, q)
	if err != nil {
		return marketplace.Shop{}, fmt.Errorf("tiktok: exchange code: %w", err)
	}
	shop.Platform = order.TikTok
	shop.Token = tok
	data, err := c.call(ctx, http.MethodGet, PathShops, shop, false, nil, nil)
	if err != nil {
		return marketplace.Shop{}, fmt.Errorf("tiktok: authorized shops: %w", err)
	}
	shops, err := decodeShops(data)
	if err != nil {
		return marketplace.Shop{}, fmt.Errorf("tiktok: authorized shops: %w", err)
	}
	if shop.ShopID == "" {
		if len(shops) != 1 {
			return marketplace.Shop{}, fmt.Errorf("tiktok: the token covers %d shops: name the one to connect", len(shops))
		}
		shop.ShopID = shops[0].ID
	}
	for _, s := range shops {
		if s.ID == shop.ShopID {
			shop.Cipher = s.Cipher
			if shop.Region == "" {
				shop.Region = s.Region
			}
			return shop, nil
		}
	}
	return marketplace.Shop{}, fmt.Errorf("tiktok: the token covers %d shops, none with id %q", len(shops), shop.ShopID)
}

// Refresh renews the shop's tokens (GET {auth}/api/v2/token/refresh). The
// old refresh token stops working.
func (c *Client) Refresh(ctx context.Context, shop marketplace.Shop) (marketplace.Token, error) {
	rt := shop.Token.RefreshToken
	if rt == "" || !tokenText(rt) {
		return marketplace.Token{}, errors.New("tiktok: refresh: refresh token missing or not printable ASCII")
	}
	q := url.Values{"app_key": {c.cfg.AppKey}, "app_secret": {c.cfg.AppSecret},
		"refresh_token": {rt}, "grant_type": {"refresh_token"}}
	tok, err := c.token(ctx, PathTokenRefresh, q)
	if err != nil {
		return marketplace.Token{}, fmt.Errorf("tiktok: refresh: %w", err)
	}
	return tok, nil
}

// token calls a token endpoint of the auth host. Those take the app secret
// and the code or refresh token in the query, which apiwire redacts from
// transport errors.
func (c *Client) token(ctx context.Context, path string, q url.Values) (marketplace.Token, error) {
	u := c.cfg.AuthBaseURL + path + "?" + q.Encode()
	build := func() (*http.Request, error) { return http.NewRequestWithContext(ctx, http.MethodGet, u, nil) }
	var env wireEnvelope
	check := func(r apiwire.Response) error {
		var err error
		env, err = checkAnswer(r.Status, r.Body)
		return err
	}
	if _, err := c.doer.Do(ctx, "token", build, check); err != nil {
		return marketplace.Token{}, err
	}
	return decodeToken(env.Data)
}

// Orders fetches orders by id, MaxDetailIDs per request. Ids the
// marketplace does not return (unknown, or not yet visible) are absent.
func (c *Client) Orders(ctx context.Context, shop marketplace.Shop, ids []string) (map[string]order.Detail, error) {
	if err := c.checkShop(shop); err != nil {
		return nil, err
	}
	uniq := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id == "" || len(id) > maxOrderIDLen || strings.ContainsAny(id, ",") || !tokenText(id) {
			return nil, fmt.Errorf("tiktok: orders: bad order id %q", clip(id))
		}
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	out := make(map[string]order.Detail, len(uniq))
	for batch := range slices.Chunk(uniq, MaxDetailIDs) {
		q := url.Values{"ids": {strings.Join(batch, ",")}}
		data, err := c.call(ctx, http.MethodGet, PathOrderDetail, shop, true, q, nil)
		if err != nil {
			return nil, fmt.Errorf("tiktok: order detail: %w", err)
		}
		details, got, err := decodeDetails(data, c.cfg.Now())
		if err != nil {
			return nil, fmt.Errorf("tiktok: order detail: %w", err)
		}
		for i, id := range got {
			if seen[id] {
				out[id] = details[i]
			}
		}
	}
	return out, nil
}

// Updated lists the shop's orders updated in [from, to), oldest update
// first, MaxPageSize per page (Search Orders, sorted by update_time). The
// API counts in whole seconds: from is rounded down and to up.
func (c *Client) Updated(ctx context.Context, shop marketplace.Shop, from, to time.Time, cursor string) (marketplace.ListPage, error) {
	if err := c.checkShop(shop); err != nil {
		return marketplace.ListPage{}, err
	}
	if !from.Before(to) {
		return marketplace.ListPage{}, errors.New("tiktok: updated: from is not before to")
	}
	if len(cursor) > maxCursor || !tokenText(cursor) {
		return marketplace.ListPage{}, errors.New("tiktok: updated: cursor too long or not printable ASCII")
	}
	lt := to.Unix()
	if to.After(time.Unix(lt, 0)) {
		lt++
	}
	body, err := json.Marshal(struct {
		GE int64 `json:"update_time_ge"`
		LT int64 `json:"update_time_lt"`
	}{from.Unix(), lt})
	if err != nil {
		return marketplace.ListPage{}, err
	}
	q := url.Values{"page_size": {strconv.Itoa(MaxPageSize)}, "sort_field": {"update_time"}, "sort_order": {"ASC"}}
	if cursor != "" {
		q.Set("page_token", cursor)
	}
	data, err := c.call(ctx, http.MethodPost, PathOrderSearch, shop, true, q, body)
	if err != nil {
		return marketplace.ListPage{}, fmt.Errorf("tiktok: search orders: %w", err)
	}
	page, err := decodePage(data)
	if err != nil {
		return marketplace.ListPage{}, fmt.Errorf("tiktok: search orders: %w", err)
	}
	return page, nil
}

func (c *Client) checkShop(shop marketplace.Shop) error {
	switch {
	case shop.Cipher == "" || !tokenText(shop.Cipher) || len(shop.Cipher) > maxField:
		return errors.New("tiktok: shop cipher missing or not printable ASCII (connect the shop first)")
	case shop.Token.AccessToken == "" || !tokenText(shop.Token.AccessToken):
		return errors.New("tiktok: access token missing or not printable ASCII")
	}
	return nil
}

// call sends a signed Open API request for shop (with its shop_cipher when
// withCipher) and returns the data of a successful answer.
func (c *Client) call(ctx context.Context, method, path string, shop marketplace.Shop, withCipher bool, q url.Values, body []byte) ([]byte, error) {
	if q == nil {
		q = url.Values{}
	}
	q.Set("app_key", c.cfg.AppKey)
	if withCipher {
		q.Set("shop_cipher", shop.Cipher)
	}
	build := func() (*http.Request, error) {
		q.Set("timestamp", strconv.FormatInt(c.cfg.Now().Unix(), 10))
		q.Del("sign")
		q.Set("sign", SignAPI(c.secret, path, q, body))
		var rd io.Reader // nil for GET: no body
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, c.cfg.BaseURL+path+"?"+q.Encode(), rd)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(HeaderAccessToken, shop.Token.AccessToken)
		return req, nil
	}
	var env wireEnvelope
	check := func(r apiwire.Response) error {
		var err error
		env, err = checkAnswer(r.Status, r.Body)
		return err
	}
	if _, err := c.doer.Do(ctx, path+"|"+shop.Cipher, build, check); err != nil {
		return nil, err
	}
	return env.Data, nil
}
