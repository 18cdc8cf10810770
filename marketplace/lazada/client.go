package lazada

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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

// AuthHost is the Lazada Open Platform host of the token APIs, for every
// country.
const AuthHost = "https://auth.lazada.com/rest"

// RegionHosts are the regional API hosts by Shop.Region.
var RegionHosts = map[string]string{
	"sg": "https://api.lazada.sg/rest",
	"my": "https://api.lazada.com.my/rest",
	"th": "https://api.lazada.co.th/rest",
	"id": "https://api.lazada.co.id/rest",
	"ph": "https://api.lazada.com.ph/rest",
	"vn": "https://api.lazada.vn/rest",
}

// API paths the client calls.
const (
	PathTokenCreate  = "/auth/token/create"  //nolint:gosec // G101: an API path, not a credential
	PathTokenRefresh = "/auth/token/refresh" //nolint:gosec // G101: an API path, not a credential
	PathOrder        = "/order/get"
	PathOrderItems   = "/order/items/get"
	PathOrdersItems  = "/orders/items/get"
	PathOrders       = "/orders/get"
)

// Error codes the client acts on.
const (
	// CodeInvalidOrderID ("E016: ... Invalid Order ID") is /order/get's and
	// /order/items/get's answer for an order the shop does not have (yet).
	CodeInvalidOrderID = "16"
	// CodeBadOrderIDs ("E037: One or more order id in the list are
	// incorrect") and CodeNoOrders ("E039: No orders were found") are
	// /orders/items/get's.
	CodeBadOrderIDs = "37"
	CodeNoOrders    = "39"
)

// Limits of the order APIs.
const (
	// MaxBatch is how many order ids /orders/items/get takes at once.
	MaxBatch = 50
	// MaxPageSize is the largest limit /orders/get accepts.
	MaxPageSize = 100
	// maxCursor bounds the offset a cursor may carry.
	maxCursor = 1_000_000
)

// TimeFormat is the ISO 8601 form /orders/get wants for update_after and
// update_before: seconds and a ±HH:MM offset ("Z" is refused).
const TimeFormat = "2006-01-02T15:04:05-07:00"

// ClientConfig configures a Client. Zero fields take the documented
// defaults (WithDefaults).
type ClientConfig struct {
	// AppKey and AppSecret are the app's credentials from the Lazada Open
	// Platform console. Required.
	AppKey    string
	AppSecret string
	// BaseURL replaces the regional API hosts (RegionHosts) for every
	// shop: for the sandbox and tests. Empty means the real host of the
	// shop's region.
	BaseURL string
	// AuthBaseURL is the host of the token APIs. Defaults to BaseURL when
	// that is set, else AuthHost.
	AuthBaseURL string
	// DefaultRegion is used for a shop without Region ("sg", "my", "th",
	// "id", "ph" or "vn"). Empty: such a shop is an error (unless BaseURL
	// is set).
	DefaultRegion string
	// HTTP sends the requests. Defaults to a client with a 15 s timeout.
	HTTP *http.Client
	// RatePerSecond and Burst limit the requests per API path and shop on
	// this side. Lazada publishes no limit; defaults to 10 per second with
	// a burst of 10. A negative RatePerSecond turns the limit off.
	RatePerSecond float64
	Burst         int
	// MaxAttempts is how often one request is sent at most (retrying
	// rate limits, 5xx and connection failures). Defaults to 4.
	MaxAttempts int
	// BackoffMin and BackoffMax bound the backoff between attempts.
	// Default to apiwire's (200 ms, 5 s).
	BackoffMin, BackoffMax time.Duration
	// PageSize is the limit of one /orders/get page, 1..MaxPageSize.
	// Defaults to MaxPageSize.
	PageSize int
	// Now is the clock for request timestamps and token expiry. Defaults
	// to time.Now.
	Now func() time.Time
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c ClientConfig) WithDefaults() ClientConfig {
	if c.AuthBaseURL == "" {
		c.AuthBaseURL = AuthHost
		if c.BaseURL != "" {
			c.AuthBaseURL = c.BaseURL
		}
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: apiwire.DefaultTimeout}
	}
	if c.RatePerSecond == 0 {
		c.RatePerSecond = 10
	}
	if c.Burst <= 0 {
		c.Burst = 10
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = apiwire.DefaultMaxAttempts
	}
	if c.PageSize == 0 {
		c.PageSize = MaxPageSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports the first bad field.
func (c ClientConfig) Validate() error {
	switch {
	case c.AppKey == "":
		return errors.New("lazada client: AppKey is required")
	case c.AppSecret == "":
		return errors.New("lazada client: AppSecret is required")
	case c.PageSize < 1 || c.PageSize > MaxPageSize:
		return fmt.Errorf("lazada client: PageSize %d is not within 1..%d", c.PageSize, MaxPageSize)
	}
	if c.DefaultRegion != "" {
		if _, ok := RegionHosts[c.DefaultRegion]; !ok {
			return fmt.Errorf("lazada client: DefaultRegion %q is not one of sg, my, th, id, ph, vn", c.DefaultRegion)
		}
	}
	for name, u := range map[string]string{"BaseURL": c.BaseURL, "AuthBaseURL": c.AuthBaseURL} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" {
			return fmt.Errorf("lazada client: %s is not an http(s) URL without query", name)
		}
	}
	return nil
}

// Client is Lazada Open Platform's order API, as orderlane uses it. It is
// safe for concurrent use.
type Client struct {
	cfg  ClientConfig
	doer *apiwire.Doer
}

var _ marketplace.Client = (*Client)(nil)

// NewClient returns a Client for cfg (after WithDefaults), or cfg's first
// bad field.
func NewClient(cfg ClientConfig) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, doer: &apiwire.Doer{
		HTTP:        cfg.HTTP,
		Limits:      apiwire.NewLimiters(max(cfg.RatePerSecond, 0), cfg.Burst),
		MaxAttempts: cfg.MaxAttempts,
		BackoffMin:  cfg.BackoffMin,
		BackoffMax:  cfg.BackoffMax,
	}}, nil
}

// Platform is order.Lazada.
func (c *Client) Platform() order.Platform { return order.Lazada }

// SignAPI returns the sign of a Lazada Open Platform request: UPPERCASE
// hex HMAC-SHA256(appSecret, apiPath + k1 + v1 + k2 + v2 ... + body), over
// every parameter but "sign" (system and API parameters alike), sorted by
// name in byte order. apiPath is the API's path without the "/rest"
// prefix of the host ("/order/get"); body is nil for GET and form posts.
func SignAPI(appSecret, apiPath string, params map[string]string, body []byte) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "sign" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write([]byte(apiPath))
	for _, k := range keys {
		m.Write([]byte(k))
		m.Write([]byte(params[k]))
	}
	m.Write(body)
	return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
}

// ExchangeCode trades the code of the seller's authorisation callback for
// a token (/auth/token/create). shop.ShopID, when set, must be one of the
// sellers the token covers (country_user_info); when empty it becomes the
// seller of shop.Region (or of the token's country). shop.Region, when
// empty, becomes that seller's country.
func (c *Client) ExchangeCode(ctx context.Context, code string, shop marketplace.Shop) (marketplace.Shop, error) {
	if code == "" || len(code) > 512 {
		return marketplace.Shop{}, errors.New("lazada API: authorisation code empty or longer than 512 bytes")
	}
	now := c.cfg.Now()
	g, err := c.token(ctx, PathTokenCreate, map[string]string{"code": code})
	if err != nil {
		return marketplace.Shop{}, err
	}
	out := shop
	out.Platform = order.Lazada
	out.Cipher = ""
	if len(g.sellers) > 0 {
		s, err := pickSeller(g, shop)
		if err != nil {
			return marketplace.Shop{}, err
		}
		out.ShopID = s.sellerID
		if out.Region == "" {
			out.Region = s.country
		}
	}
	if out.Region == "" {
		out.Region = g.country
	}
	if out.ShopID == "" {
		return marketplace.Shop{}, badResponse("token: no seller_id")
	}
	out.Token = g.at(now)
	return out, nil
}

// pickSeller finds the seller of the token that shop names: by ShopID
// when set, else by Region (or the token's country); a shop without
// either takes the token's first seller.
func pickSeller(g grant, shop marketplace.Shop) (seller, error) {
	for _, s := range g.sellers {
		if shop.ShopID != "" && s.sellerID == shop.ShopID {
			return s, nil
		}
	}
	if shop.ShopID != "" {
		return seller{}, fmt.Errorf("lazada API: the token is not for seller %s", shop.ShopID)
	}
	region := shop.Region
	if region == "" {
		region = g.country
	}
	for _, s := range g.sellers {
		if s.country == strings.ToLower(region) {
			return s, nil
		}
	}
	if shop.Region != "" {
		return seller{}, fmt.Errorf("lazada API: the token has no seller in %q", shop.Region)
	}
	return g.sellers[0], nil
}

// Refresh renews shop's token with its refresh token
// (/auth/token/refresh). The old tokens stop working.
func (c *Client) Refresh(ctx context.Context, shop marketplace.Shop) (marketplace.Token, error) {
	if shop.Token.RefreshToken == "" {
		return marketplace.Token{}, fmt.Errorf("lazada API: shop %s has no refresh token: %w", shop.ShopID, marketplace.ErrAuth)
	}
	now := c.cfg.Now()
	g, err := c.token(ctx, PathTokenRefresh, map[string]string{"refresh_token": shop.Token.RefreshToken})
	if err != nil {
		return marketplace.Token{}, err
	}
	return g.at(now), nil
}

// at is the token as issued at now.
func (g grant) at(now time.Time) marketplace.Token {
	t := marketplace.Token{AccessToken: g.access, RefreshToken: g.refresh, AccessExpiresAt: now.Add(g.accessTTL)}
	if g.refreshTTL > 0 {
		t.RefreshExpiresAt = now.Add(g.refreshTTL)
	}
	return t
}

// token calls a token API; its fields are at the top level of the answer.
func (c *Client) token(ctx context.Context, path string, params map[string]string) (grant, error) {
	body, _, err := c.call(ctx, c.cfg.AuthBaseURL, path, params, "", path+"|app")
	if err != nil {
		return grant{}, err
	}
	return decodeToken(body)
}

// Orders fetches full orders: /order/get for each id (an id Lazada answers
// E016 Invalid Order ID for is absent from the result), then the items of
// the orders found, MaxBatch at a time, with /orders/items/get (falling
// back to /order/items/get per order when the batch is refused or leaves
// an order out). ids must be decimal numbers, as Lazada's order ids are.
// See buildDetail for how the detail is made.
func (c *Client) Orders(ctx context.Context, shop marketplace.Shop, ids []string) (map[string]order.Detail, error) {
	base, err := c.base(shop)
	if err != nil {
		return nil, err
	}
	var uniq []string
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || len(id) > 32 || strings.Trim(id, "0123456789") != "" {
			return nil, fmt.Errorf("lazada API: order id %q is not a decimal number", id)
		}
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	token := shop.Token.AccessToken
	headers := map[string]orderHeader{}
	var found []string
	for _, id := range uniq {
		_, env, err := c.call(ctx, base, PathOrder, map[string]string{"order_id": id}, token, PathOrder+"|"+shop.ShopID)
		if isCode(err, CodeInvalidOrderID) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lazada API: order %s: %w", id, err)
		}
		h, err := decodeOrderHeader(env.Data, id)
		if err != nil {
			return nil, err
		}
		headers[id] = h
		found = append(found, id)
	}

	rows := map[string][]itemRow{}
	for batch := range slices.Chunk(found, MaxBatch) {
		_, env, err := c.call(ctx, base, PathOrdersItems, map[string]string{"order_ids": "[" + strings.Join(batch, ",") + "]"},
			token, PathOrdersItems+"|"+shop.ShopID)
		switch {
		case isCode(err, CodeBadOrderIDs) || isCode(err, CodeNoOrders):
			continue // per order below
		case err != nil:
			return nil, fmt.Errorf("lazada API: order items: %w", err)
		}
		m, err := decodeMultiItems(env.Data)
		if err != nil {
			return nil, err
		}
		for _, id := range batch {
			if r, ok := m[id]; ok {
				rows[id] = r
			}
		}
	}

	out := make(map[string]order.Detail, len(found))
	for _, id := range found {
		r, ok := rows[id]
		if !ok {
			_, env, err := c.call(ctx, base, PathOrderItems, map[string]string{"order_id": id}, token, PathOrderItems+"|"+shop.ShopID)
			if isCode(err, CodeInvalidOrderID) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("lazada API: order %s items: %w", id, err)
			}
			if r, err = decodeItems(env.Data); err != nil {
				return nil, err
			}
		}
		d, err := buildDetail(id, headers[id], r, c.cfg.Now())
		if err != nil {
			return nil, fmt.Errorf("order %s: %w", id, err)
		}
		out[id] = d
	}
	return out, nil
}

// Updated lists the orders updated in [from, to) with /orders/get, sorted
// by updated_at ascending; the cursor is the offset of the next page.
// Lazada compares whole seconds and includes both ends, so the window
// sent is update_after = from (truncated to the second) and update_before
// = to - 1 s (to rounded up to the second): exact for whole-second
// bounds. Offset paging over a window of update times can skip an order
// that is updated while the pages are read (it moves to the end): overlap
// reconciliation windows.
func (c *Client) Updated(ctx context.Context, shop marketplace.Shop, from, to time.Time, cursor string) (marketplace.ListPage, error) {
	if !from.Before(to) {
		return marketplace.ListPage{}, fmt.Errorf("lazada API: empty window [%s, %s)", from, to)
	}
	base, err := c.base(shop)
	if err != nil {
		return marketplace.ListPage{}, err
	}
	offset := 0
	if cursor != "" {
		offset, err = strconv.Atoi(cursor)
		if err != nil || offset < 0 || offset > maxCursor {
			return marketplace.ListPage{}, fmt.Errorf("lazada API: bad cursor %q", cursor)
		}
	}
	after := from.UTC().Truncate(time.Second)
	end := to.UTC()
	if t := end.Truncate(time.Second); !t.Equal(end) {
		end = t.Add(time.Second)
	}
	before := end.Add(-time.Second)
	if before.Before(after) {
		before = after
	}
	params := map[string]string{
		"update_after":   after.Format(TimeFormat),
		"update_before":  before.Format(TimeFormat),
		"sort_by":        "updated_at",
		"sort_direction": "ASC",
		"offset":         strconv.Itoa(offset),
		"limit":          strconv.Itoa(c.cfg.PageSize),
	}
	_, env, err := c.call(ctx, base, PathOrders, params, shop.Token.AccessToken, PathOrders+"|"+shop.ShopID)
	if err != nil {
		return marketplace.ListPage{}, fmt.Errorf("lazada API: orders: %w", err)
	}
	refs, total, err := decodeList(env.Data)
	if err != nil {
		return marketplace.ListPage{}, err
	}
	page := marketplace.ListPage{Orders: make([]marketplace.OrderRef, 0, len(refs))}
	for _, r := range refs {
		page.Orders = append(page.Orders, marketplace.OrderRef{OrderID: r.id, Status: r.status, UpdateTime: r.updated})
	}
	next := offset + len(refs)
	if len(refs) == c.cfg.PageSize && (total < 0 || int64(next) < total) && next <= maxCursor {
		page.Cursor = strconv.Itoa(next)
	}
	return page, nil
}

// base is the API host of shop's region (or BaseURL).
func (c *Client) base(shop marketplace.Shop) (string, error) {
	if c.cfg.BaseURL != "" {
		return c.cfg.BaseURL, nil
	}
	region := shop.Region
	if region == "" {
		region = c.cfg.DefaultRegion
	}
	h, ok := RegionHosts[strings.ToLower(region)]
	if !ok {
		return "", fmt.Errorf("lazada API: shop %s has no known region (%q)", shop.ShopID, region)
	}
	return h, nil
}

// call sends one signed GET request (system parameters added, fresh
// timestamp and sign on every attempt) and returns the answer's body and
// apiEnvelope. A Lazada error code comes back as *marketplace.APIError.
func (c *Client) call(ctx context.Context, base, path string, params map[string]string, accessToken, limitKey string) ([]byte, apiEnvelope, error) {
	build := func() (*http.Request, error) {
		p := make(map[string]string, len(params)+5)
		for k, v := range params {
			p[k] = v
		}
		p["app_key"] = c.cfg.AppKey
		p["timestamp"] = strconv.FormatInt(c.cfg.Now().UnixMilli(), 10)
		p["sign_method"] = "sha256"
		if accessToken != "" {
			p["access_token"] = accessToken
		}
		p["sign"] = SignAPI(c.cfg.AppSecret, path, p, nil)
		q := url.Values{}
		for k, v := range p {
			q.Set(k, v)
		}
		return http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+path+"?"+q.Encode(), nil)
	}
	var env apiEnvelope
	check := func(r apiwire.Response) error {
		e, ok, err := decodeEnvelope(r.Body)
		if err != nil {
			if r.Status != http.StatusOK {
				return &marketplace.APIError{Platform: order.Lazada, Status: r.Status, Code: strconv.Itoa(r.Status),
					Message: http.StatusText(r.Status), Kind: apiwire.StatusKind(r.Status)}
			}
			return err
		}
		switch {
		case ok && r.Status == http.StatusOK:
			env = e
			return nil
		case ok: // code "0" with an HTTP error status
			return &marketplace.APIError{Platform: order.Lazada, Status: r.Status, Code: strconv.Itoa(r.Status),
				Message: http.StatusText(r.Status), RequestID: e.RequestID, Kind: apiwire.StatusKind(r.Status)}
		}
		return apiError(r.Status, e)
	}
	resp, err := c.doer.Do(ctx, limitKey, build, check)
	if err != nil {
		return nil, apiEnvelope{}, err
	}
	return resp.Body, env, nil
}

// apiError maps a Lazada error apiEnvelope onto *marketplace.APIError:
// ApiCallLimit and AppCallLimit are rate limits; IllegalAccessToken,
// IllegalRefreshToken, InvalidCode, MISSING_PARAMETER of access_token and
// InsufficientPermission are ErrAuth; ServiceUnavailable, ServiceTimeout,
// InternalError, "6" (E006 System Error) and HTTP 5xx are temporary;
// signature, timestamp and parameter errors are refused as they are
// (Kind nil).
func apiError(status int, e apiEnvelope) *marketplace.APIError {
	code := string(e.Code.Raw)
	var kind error
	switch code {
	case "ApiCallLimit", "AppCallLimit":
		kind = marketplace.ErrRateLimited
	case "IllegalAccessToken", "IllegalRefreshToken", "InvalidCode", "InsufficientPermission", "AccessDenied":
		kind = marketplace.ErrAuth
	case "ServiceUnavailable", "ServiceTimeout", "InternalError", "6":
		kind = marketplace.ErrTemporary
	case "MISSING_PARAMETER", "MissingParameter":
		if strings.Contains(e.Message, "access_token") {
			kind = marketplace.ErrAuth
		}
	}
	if kind == nil {
		kind = apiwire.StatusKind(status)
	}
	return &marketplace.APIError{Platform: order.Lazada, Status: status, Code: code, Message: e.Message,
		RequestID: e.RequestID, Kind: kind}
}

// isCode reports whether err is a Lazada error with code.
func isCode(err error, code string) bool {
	var ae *marketplace.APIError
	return errors.As(err, &ae) && ae.Code == code
}
