package shopee

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
	"strconv"
	"strings"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/internal/apiwire"
	"github.com/orderlane/orderlane/order"
)

// Shopee Open Platform v2 hosts.
const (
	// ProductionURL is the production host for developers near Singapore,
	// the ClientConfig default.
	ProductionURL = "https://partner.shopeemobile.com"
	// TestURL is the test (sandbox) host.
	TestURL = "https://partner.test-stable.shopeemobile.com"
)

// API paths the Client calls. They are part of the signature base string.
const (
	PathTokenGet           = "/api/v2/auth/token/get"        //nolint:gosec // G101: a URL path, not a credential
	PathAccessTokenGet     = "/api/v2/auth/access_token/get" //nolint:gosec // G101: a URL path, not a credential
	PathOrderDetail        = "/api/v2/order/get_order_detail"
	PathOrderList          = "/api/v2/order/get_order_list"
	PathPackageDetail      = "/api/v2/order/get_package_detail"
	PathLostPush           = "/api/v2/push/get_lost_push_message"
	PathConfirmLostPush    = "/api/v2/push/confirm_consumed_lost_push_message"
	MaxDetailBatch         = 50                  // order_sn_list and package_number_list: at most 50 per call
	MaxPageSize            = 100                 // get_order_list page_size: 1..100
	MaxListWindow          = 15 * 24 * time.Hour // get_order_list: time_to - time_from at most 15 days
	RefreshTokenLifetime   = 30 * 24 * time.Hour // documented; the token API does not return it
	DefaultRatePerSecond   = 10
	DefaultBurst           = 10
	maxIDLen               = 64
	detailOptionalFields   = "buyer_user_id,buyer_username,recipient_address,item_list,total_amount,estimated_shipping_fee,package_list,shipping_carrier"
	listOptionalFields     = "order_status"
	timeRangeUpdate        = "update_time"
	maxCursorLen           = 512
	cursorSeparator        = ":"
	refreshTokenMaxLen     = 512
	authorisationCodeMaxLn = 512
)

// ClientConfig configures a Client. PartnerID and PartnerKey are required.
type ClientConfig struct {
	// PartnerID is the app's partner_id (decimal) and PartnerKey its
	// partner key, which signs every request. The key never appears in
	// errors or String.
	PartnerID  string
	PartnerKey string
	// BaseURL is the API host (scheme and host, no path). Defaults to
	// ProductionURL; tests and the sandbox point it at a fake.
	BaseURL string
	// HTTP sends the requests. Defaults to a client with a 15 s timeout.
	HTTP *http.Client
	// RatePerSecond and Burst limit requests per API path and shop on the
	// client side. Defaults to 10/s with a burst of 10; a negative
	// RatePerSecond turns the limit off.
	RatePerSecond float64
	Burst         int
	// MaxAttempts is how often a request is sent at most (429, 5xx and
	// connection failures are retried). Defaults to 4.
	MaxAttempts int
	// BackoffMin and BackoffMax bound the backoff between attempts.
	// Default to 200 ms and 5 s.
	BackoffMin, BackoffMax time.Duration
	// PageSize is get_order_list's page_size (1..100). Defaults to 100.
	PageSize int
	// SkipTracking leaves Package.TrackingNo empty in Orders: the order
	// detail has no tracking numbers, and fetching them costs one
	// get_package_detail call per 50 packages. Defaults to false (fetch).
	SkipTracking bool
	// Now is the clock that stamps requests (Shopee refuses a timestamp
	// older than 5 minutes). Defaults to time.Now.
	Now func() time.Time
}

// String shows the configuration without the partner key.
func (c ClientConfig) String() string {
	return fmt.Sprintf("shopee.ClientConfig{PartnerID: %s, BaseURL: %s}", c.PartnerID, c.BaseURL)
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c ClientConfig) WithDefaults() ClientConfig {
	if c.BaseURL == "" {
		c.BaseURL = ProductionURL
	}
	if c.RatePerSecond == 0 {
		c.RatePerSecond = DefaultRatePerSecond
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	if c.PageSize == 0 {
		c.PageSize = MaxPageSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate names the first field that is unusable.
func (c ClientConfig) Validate() error {
	switch {
	case !isDigits(c.PartnerID) || len(c.PartnerID) > 20:
		return errors.New("shopee client: PartnerID must be a decimal number")
	case c.PartnerKey == "":
		return errors.New("shopee client: PartnerKey is required")
	case c.PageSize < 1 || c.PageSize > MaxPageSize:
		return fmt.Errorf("shopee client: PageSize must be within 1..%d", MaxPageSize)
	case c.MaxAttempts < 0:
		return errors.New("shopee client: MaxAttempts must not be negative")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return errors.New("shopee client: BaseURL must be an http(s) URL with a host and no path or query")
	}
	return nil
}

// Client speaks Shopee Open Platform v2 for orderlane: token exchange and
// refresh, order detail and listing, and the lost-push queue. It is safe
// for concurrent use.
type Client struct {
	cfg  ClientConfig
	base string
	doer *apiwire.Doer
}

var _ marketplace.Client = (*Client)(nil)

// NewClient returns a Client for cfg (after WithDefaults and Validate).
func NewClient(cfg ClientConfig) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Client{
		cfg:  cfg,
		base: strings.TrimSuffix(cfg.BaseURL, "/"),
		doer: &apiwire.Doer{
			HTTP:        cfg.HTTP,
			Limits:      apiwire.NewLimiters(cfg.RatePerSecond, cfg.Burst),
			MaxAttempts: cfg.MaxAttempts,
			BackoffMin:  cfg.BackoffMin,
			BackoffMax:  cfg.BackoffMax,
		},
	}, nil
}

// SignAPI returns Shopee's request signature: lowercase hex
// HMAC-SHA256(partnerKey, partnerID + path + timestamp + accessToken +
// shopID). Public and auth APIs pass accessToken and shopID as "".
func SignAPI(partnerKey, partnerID, path string, timestamp int64, accessToken, shopID string) string {
	m := hmac.New(sha256.New, []byte(partnerKey))
	m.Write([]byte(partnerID))
	m.Write([]byte(path))
	m.Write(strconv.AppendInt(nil, timestamp, 10))
	m.Write([]byte(accessToken))
	m.Write([]byte(shopID))
	return hex.EncodeToString(m.Sum(nil))
}

// Platform is order.Shopee.
func (c *Client) Platform() order.Platform { return order.Shopee }

// ExchangeCode trades the code of the authorisation redirect for the
// shop's tokens (POST /api/v2/auth/token/get). shop.ShopID is the shop_id
// of the redirect; main-account authorisation (main_account_id) is not
// supported.
func (c *Client) ExchangeCode(ctx context.Context, code string, shop marketplace.Shop) (marketplace.Shop, error) {
	if code == "" || len(code) > authorisationCodeMaxLn {
		return marketplace.Shop{}, errors.New("shopee: authorisation code is empty or too long")
	}
	if err := checkShopID(shop.ShopID); err != nil {
		return marketplace.Shop{}, err
	}
	body := map[string]any{"code": code, "shop_id": json.Number(shop.ShopID), "partner_id": json.Number(c.cfg.PartnerID)}
	raw, err := c.call(ctx, http.MethodPost, PathTokenGet, nil, nil, body)
	if err != nil {
		return marketplace.Shop{}, fmt.Errorf("shopee: exchange code: %w", err)
	}
	tok, err := decodeToken(raw, c.cfg.Now())
	if err != nil {
		return marketplace.Shop{}, fmt.Errorf("shopee: exchange code: %w", err)
	}
	shop.Platform = order.Shopee
	shop.Token = tok
	return shop, nil
}

// Refresh trades shop's refresh token for new tokens (POST
// /api/v2/auth/access_token/get). Shopee's refresh tokens are single-use:
// store the returned RefreshToken.
func (c *Client) Refresh(ctx context.Context, shop marketplace.Shop) (marketplace.Token, error) {
	if err := checkShopID(shop.ShopID); err != nil {
		return marketplace.Token{}, err
	}
	rt := shop.Token.RefreshToken
	if rt == "" || len(rt) > refreshTokenMaxLen {
		return marketplace.Token{}, errors.New("shopee: refresh token is empty or too long")
	}
	body := map[string]any{"refresh_token": rt, "shop_id": json.Number(shop.ShopID), "partner_id": json.Number(c.cfg.PartnerID)}
	raw, err := c.call(ctx, http.MethodPost, PathAccessTokenGet, nil, nil, body)
	if err != nil {
		return marketplace.Token{}, fmt.Errorf("shopee: refresh: %w", err)
	}
	tok, err := decodeToken(raw, c.cfg.Now())
	if err != nil {
		return marketplace.Token{}, fmt.Errorf("shopee: refresh: %w", err)
	}
	return tok, nil
}

// Orders fetches orders by order_sn, 50 per get_order_detail call, naming
// the optional fields it maps (items, address, amounts, buyer, packages).
// An order_sn Shopee does not return is absent from the result. Unless
// SkipTracking, the packages' tracking numbers come from
// get_package_detail (the detail has none). ids must be non-empty
// printable ASCII without commas; duplicates are fetched once.
func (c *Client) Orders(ctx context.Context, shop marketplace.Shop, ids []string) (map[string]order.Detail, error) {
	if err := checkShop(shop); err != nil {
		return nil, err
	}
	ids, err := uniqueIDs("order id", ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]order.Detail, len(ids))
	var packages []string
	for batch := range chunks(ids, MaxDetailBatch) {
		q := url.Values{"order_sn_list": {strings.Join(batch, ",")}, "response_optional_fields": {detailOptionalFields}}
		raw, err := c.call(ctx, http.MethodGet, PathOrderDetail, &shop, q, nil)
		if err != nil {
			return nil, fmt.Errorf("shopee: order detail: %w", err)
		}
		got, err := decodeOrderDetail(raw, c.cfg.Now())
		if err != nil {
			return nil, fmt.Errorf("shopee: order detail: %w", err)
		}
		for _, id := range batch {
			d, ok := got[id]
			if !ok {
				continue
			}
			out[id] = d
			for _, p := range d.Packages {
				packages = append(packages, p.ID)
			}
		}
	}
	if c.cfg.SkipTracking || len(packages) == 0 {
		return out, nil
	}
	tracking, err := c.tracking(ctx, shop, packages)
	if err != nil {
		return nil, err
	}
	for id, d := range out {
		for i, p := range d.Packages {
			if info, ok := tracking[p.ID]; ok {
				d.Packages[i].TrackingNo = info.TrackingNo
				if d.Packages[i].Carrier == "" {
					d.Packages[i].Carrier = info.Carrier
				}
			}
		}
		out[id] = d
	}
	return out, nil
}

// tracking reads the packages' tracking numbers, 50 per call.
func (c *Client) tracking(ctx context.Context, shop marketplace.Shop, packages []string) (map[string]order.Package, error) {
	packages, err := uniqueIDs("package number", packages)
	if err != nil {
		return nil, err
	}
	out := make(map[string]order.Package, len(packages))
	for batch := range chunks(packages, MaxDetailBatch) {
		q := url.Values{"package_number_list": {strings.Join(batch, ",")}}
		raw, err := c.call(ctx, http.MethodGet, PathPackageDetail, &shop, q, nil)
		if err != nil {
			return nil, fmt.Errorf("shopee: package detail: %w", err)
		}
		got, err := decodePackageDetail(raw)
		if err != nil {
			return nil, fmt.Errorf("shopee: package detail: %w", err)
		}
		for k, v := range got {
			out[k] = v
		}
	}
	return out, nil
}

// Updated lists the orders whose update_time lies in [from, to), in
// get_order_list pages. Shopee takes whole seconds, both ends inclusive,
// and at most 15 days per call: the client walks longer windows in 15-day
// slices and carries the slice in the cursor, so a page may be short (or,
// between slices, empty only when no slice remains). The list names no
// update time per order: OrderRef.UpdateTime stays zero; OrderRef.Status
// is the order_status Shopee lists.
func (c *Client) Updated(ctx context.Context, shop marketplace.Shop, from, to time.Time, cursor string) (marketplace.ListPage, error) {
	if err := checkShop(shop); err != nil {
		return marketplace.ListPage{}, err
	}
	if !from.Before(to) {
		return marketplace.ListPage{}, errors.New("shopee: updated: from must be before to")
	}
	lo, hi := ceilUnix(from), ceilUnix(to)-1 // the whole seconds in [from, to)
	if lo > hi {
		return marketplace.ListPage{}, nil
	}
	start, sc := lo, ""
	if cursor != "" {
		var err error
		if start, sc, err = parseCursor(cursor, lo, hi); err != nil {
			return marketplace.ListPage{}, err
		}
	}
	window := int64(MaxListWindow/time.Second) - 1
	for {
		end := min(start+window, hi)
		q := url.Values{
			"time_range_field":         {timeRangeUpdate},
			"time_from":                {strconv.FormatInt(start, 10)},
			"time_to":                  {strconv.FormatInt(end, 10)},
			"page_size":                {strconv.Itoa(c.cfg.PageSize)},
			"response_optional_fields": {listOptionalFields},
		}
		if sc != "" {
			q.Set("cursor", sc)
		}
		raw, err := c.call(ctx, http.MethodGet, PathOrderList, &shop, q, nil)
		if err != nil {
			return marketplace.ListPage{}, fmt.Errorf("shopee: order list: %w", err)
		}
		page, err := decodeOrderList(raw)
		if err != nil {
			return marketplace.ListPage{}, fmt.Errorf("shopee: order list: %w", err)
		}
		switch {
		case page.more:
			return marketplace.ListPage{Orders: page.orders, Cursor: formatCursor(start, page.next)}, nil
		case end >= hi:
			return marketplace.ListPage{Orders: page.orders}, nil
		}
		start, sc = end+1, ""
		if len(page.orders) > 0 {
			return marketplace.ListPage{Orders: page.orders, Cursor: formatCursor(start, "")}, nil
		}
	}
}

// LostPush is one push Shopee failed to deliver, as
// get_lost_push_message returns it.
type LostPush struct {
	// ShopID is "" for partner-level pushes.
	ShopID string
	Code   int64
	// Timestamp is when Shopee lost the push.
	Timestamp time.Time
	// Data is the push's data object (Shopee sends it as a JSON string).
	Data []byte
}

// Body rebuilds the push body ({"shop_id", "code", "timestamp", "data"})
// for Parse, so that a lost push enters the pipeline like a delivered one.
// It carries no msg_id: Parse keys it by content.
func (p LostPush) Body() []byte {
	var b bytes.Buffer
	b.WriteString(`{"code":`)
	b.WriteString(strconv.FormatInt(p.Code, 10))
	if p.ShopID != "" {
		b.WriteString(`,"shop_id":`)
		b.WriteString(p.ShopID)
	}
	b.WriteString(`,"timestamp":`)
	b.WriteString(strconv.FormatInt(p.Timestamp.Unix(), 10))
	b.WriteString(`,"data":`)
	if json.Valid(p.Data) {
		b.Write(p.Data)
	} else {
		q, _ := json.Marshal(string(p.Data))
		b.Write(q)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// LostPushPage is one page of the lost-push queue: the earliest (up to
// 100) pushes of the last 3 days not yet confirmed.
type LostPushPage struct {
	Pushes []LostPush
	// HasNextPage says more lost pushes wait after this page.
	HasNextPage bool
	// LastMessageID confirms this page (ConfirmLostPushes).
	LastMessageID int64
}

// LostPushes reads the lost-push queue (GET
// /api/v2/push/get_lost_push_message, partner-level). The same pushes
// come back until ConfirmLostPushes confirms them.
func (c *Client) LostPushes(ctx context.Context) (LostPushPage, error) {
	raw, err := c.call(ctx, http.MethodGet, PathLostPush, nil, nil, nil)
	if err != nil {
		return LostPushPage{}, fmt.Errorf("shopee: lost pushes: %w", err)
	}
	page, err := decodeLostPushes(raw)
	if err != nil {
		return LostPushPage{}, fmt.Errorf("shopee: lost pushes: %w", err)
	}
	return page, nil
}

// ConfirmLostPushes tells Shopee that every lost push up to lastID
// (LostPushPage.LastMessageID) is consumed (POST
// /api/v2/push/confirm_consumed_lost_push_message).
func (c *Client) ConfirmLostPushes(ctx context.Context, lastID int64) error {
	if lastID <= 0 {
		return errors.New("shopee: confirm lost pushes: last message id must be positive")
	}
	if _, err := c.call(ctx, http.MethodPost, PathConfirmLostPush, nil, nil, map[string]int64{"last_message_id": lastID}); err != nil {
		return fmt.Errorf("shopee: confirm lost pushes: %w", err)
	}
	return nil
}

// call sends one signed request (shop-level when shop is non-nil, else
// public) with retries, and returns the body of a successful answer.
func (c *Client) call(ctx context.Context, method, path string, shop *marketplace.Shop, query url.Values, body any) ([]byte, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	var token, shopID string
	if shop != nil {
		token, shopID = shop.Token.AccessToken, shop.ShopID
	}
	build := func() (*http.Request, error) {
		ts := c.cfg.Now().Unix()
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("partner_id", c.cfg.PartnerID)
		q.Set("timestamp", strconv.FormatInt(ts, 10))
		if shop != nil {
			q.Set("access_token", token)
			q.Set("shop_id", shopID)
		}
		q.Set("sign", SignAPI(c.cfg.PartnerKey, c.cfg.PartnerID, path, ts, token, shopID))
		var r io.Reader
		if payload != nil {
			r = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, c.base+path+"?"+q.Encode(), r)
		if err != nil {
			return nil, errors.New("building request failed")
		}
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, nil
	}
	resp, err := c.doer.Do(ctx, path+"|"+shopID, build, checkResponse)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// checkResponse classifies an answer for the retry loop: Shopee's error
// envelope (with any HTTP status) becomes *marketplace.APIError, a non-200
// without one an APIError named after the status.
func checkResponse(r apiwire.Response) error {
	if e := envelopeError(r.Status, r.Body); e != nil {
		return e
	}
	if r.Status != http.StatusOK {
		return &marketplace.APIError{Platform: order.Shopee, Status: r.Status, Code: strconv.Itoa(r.Status),
			Message: http.StatusText(r.Status), Kind: apiwire.StatusKind(r.Status)}
	}
	return nil
}

// errorKind maps Shopee's error code (and the HTTP status) onto the kinds
// of marketplace errors. Shopee spells its expired-token error
// "invalid_acceess_token"; both spellings are matched.
func errorKind(code string, status int) error {
	c := strings.ToLower(code)
	switch c {
	case "error_auth", "error_sign", "error_permission", "invalid_access_token", "invalid_acceess_token",
		"error_access_token", "error_invalid_access_token", "error_refresh_token", "invalid_refresh_token", "error_shop_not_authorized":
		return marketplace.ErrAuth
	case "error_server", "error_network", "error_inner", "error_busy", "error_system_busy", "error_timeout", "error_internal":
		return marketplace.ErrTemporary
	}
	switch {
	case strings.Contains(c, "rate_limit") || strings.Contains(c, "ratelimit") || strings.Contains(c, "too_many") ||
		strings.Contains(c, "frequency") || c == "error_limit":
		return marketplace.ErrRateLimited
	case strings.Contains(c, "access_token") || strings.Contains(c, "acceess_token"):
		return marketplace.ErrAuth
	}
	return apiwire.StatusKind(status)
}

// checkShop checks what every shop-level call needs.
func checkShop(shop marketplace.Shop) error {
	if err := checkShopID(shop.ShopID); err != nil {
		return err
	}
	if shop.Token.AccessToken == "" || len(shop.Token.AccessToken) > refreshTokenMaxLen {
		return errors.New("shopee: shop has no usable access token")
	}
	return nil
}

func checkShopID(id string) error {
	if !isDigits(id) || len(id) > 20 {
		return errors.New("shopee: shop id must be a decimal number")
	}
	return nil
}

// uniqueIDs checks ids (non-empty printable ASCII, no comma, at most 64
// bytes) and drops duplicates, keeping the first order.
func uniqueIDs(what string, ids []string) ([]string, error) {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id == "" || len(id) > maxIDLen {
			return nil, fmt.Errorf("shopee: %s is empty or longer than %d bytes", what, maxIDLen)
		}
		for i := 0; i < len(id); i++ {
			if id[i] <= ' ' || id[i] > '~' || id[i] == ',' {
				return nil, fmt.Errorf("shopee: %s %q has a character Shopee ids never have", what, id)
			}
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// chunks yields s in slices of at most n.
func chunks(s []string, n int) func(func([]string) bool) {
	return func(yield func([]string) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// ceilUnix is t in whole Unix seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// formatCursor and parseCursor carry the 15-day slice's start and
// Shopee's own cursor: "<start>:<shopee cursor>".
func formatCursor(start int64, shopeeCursor string) string {
	return strconv.FormatInt(start, 10) + cursorSeparator + shopeeCursor
}

func parseCursor(cursor string, lo, hi int64) (int64, string, error) {
	bad := errors.New("shopee: updated: cursor is not one this client issued for this window")
	if len(cursor) > maxCursorLen {
		return 0, "", bad
	}
	s, sc, ok := strings.Cut(cursor, cursorSeparator)
	start, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil || start < lo || start > hi {
		return 0, "", bad
	}
	return start, sc, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
