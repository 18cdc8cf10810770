// Package lazadasim is a faithful fake of Lazada Open Platform over a
// sandbox.Sale: the order and token APIs that orderlane's Lazada client
// calls, checked and answered as Lazada does, and the signed pushes Lazada
// sends for an order's changes.
//
// Every request is checked like Lazada's gateway: app_key, sign_method
// sha256, the sign (UPPERCASE hex HMAC-SHA256 of the API path and the
// sorted parameters, recomputed with the app secret and compared in
// constant time), a timestamp within 7200 s of the real clock, and for
// shop APIs a valid access_token. Failures are Lazada's envelope with HTTP
// 200: {"code":"IncompleteSignature","type":"ISV","message":...,
// "request_id":...}. An order before its VisibleAt is unknown to the API
// (E016 Invalid Order ID), as at Lazada right after a push.
package lazadasim

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/internal/simwire"
)

// Config configures a Sim.
type Config struct {
	// RatePerSecond and Burst limit requests per API path and shop (per
	// path and app for the token APIs); over the limit the Sim answers
	// Lazada's ApiCallLimit error. A RatePerSecond of 0 is unlimited.
	RatePerSecond float64
	Burst         int
	// MaxSkew is how far a request's timestamp may be from Clock.
	// Defaults to Lazada's 7200 s.
	MaxSkew time.Duration
	// Clock is Lazada's real clock, against which request timestamps are
	// checked, and for nothing else: tokens, visibility and update times
	// follow the sale's (simulated) clock. Defaults to time.Now.
	Clock func() time.Time
}

// Sim serves a Sale as Lazada Open Platform. It is safe for concurrent
// use.
type Sim struct {
	sale *sandbox.Sale
	cfg  Config

	limits *simwire.Limits
}

var _ sandbox.Marketplace = (*Sim)(nil)

// New returns a Sim over sale.
func New(sale *sandbox.Sale, cfg Config) *Sim {
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = 7200 * time.Second
	}
	cfg.Burst = max(cfg.Burst, 1)
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Sim{sale: sale, cfg: cfg, limits: simwire.NewLimits(cfg.RatePerSecond, cfg.Burst)}
}

// Platform is order.Lazada.
func (s *Sim) Platform() order.Platform { return order.Lazada }

// Error codes, types and messages the Sim answers with (Lazada's own).
const (
	codeMissing      = "MISSING_PARAMETER"
	codeInvalidParam = "InvalidParameter"
	codeAppKey       = "InvalidAppKey"
	codeSignMethod   = "InvalidSignMethod"
	codeSignature    = "IncompleteSignature"
	codeTimestamp    = "InvalidTimestamp"
	codeAccessToken  = "IllegalAccessToken"
	codeRefreshToken = "IllegalRefreshToken"
	codeAuthCode     = "InvalidCode"
	codeRateLimit    = "ApiCallLimit"
	codeAPIPath      = "InvalidApiPath"
)

// maxForm bounds a request's form body.
const maxForm = 64 << 10

// route is one API the Sim serves.
type route struct {
	shop   bool // needs an access token
	handle func(s *Sim, w http.ResponseWriter, req request)
}

// request is a checked request.
type request struct {
	path   string
	params map[string]string
	app    sandbox.App
	shop   sandbox.Shop // for shop APIs
}

var routes = map[string]route{
	lazada.PathTokenCreate:  {handle: grant("code", codeAuthCode, "Invalid authorization code", (*sandbox.Sale).Exchange)},
	lazada.PathTokenRefresh: {handle: grant("refresh_token", codeRefreshToken, "The specified refresh token is invalid or expired", (*sandbox.Sale).Refresh)},
	lazada.PathOrder:        {shop: true, handle: (*Sim).orderGet},
	lazada.PathOrderItems:   {shop: true, handle: (*Sim).orderItemsGet},
	lazada.PathOrdersItems:  {shop: true, handle: (*Sim).ordersItemsGet},
	lazada.PathOrders:       {shop: true, handle: (*Sim).ordersGet},
}

// Handler serves the APIs under "/rest" (as the real hosts do) or at the
// root: the sign covers the path without "/rest".
func (s *Sim) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Sim) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/rest")
	rt, ok := routes[path]
	if !ok {
		s.fail(w, codeAPIPath, "SYSTEM", "The specified API path is invalid")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		s.fail(w, codeInvalidParam, "ISV", "The request parameters are not readable")
		return
	}
	params := make(map[string]string, len(r.Form))
	for k, vs := range r.Form {
		if len(vs) != 1 {
			s.fail(w, codeInvalidParam, "ISV", "duplicate parameter: "+k)
			return
		}
		params[k] = vs[0]
	}
	req := request{path: path, params: params}
	if !s.checkSystem(w, &req) {
		return
	}
	limitKey := path + "|app"
	if rt.shop {
		tok := params["access_token"]
		if tok == "" {
			s.fail(w, codeMissing, "ISV", "missing required parameter: access_token")
			return
		}
		shop, ok := s.sale.Authorize(order.Lazada, tok)
		if !ok {
			s.fail(w, codeAccessToken, "ISV", "The specified access token is invalid or expired")
			return
		}
		req.shop = shop
		limitKey = path + "|" + shop.ShopID
	}
	if !s.limits.Allow(limitKey) {
		s.fail(w, codeRateLimit, "ISP", "The request has exceeded the limit for this API")
		return
	}
	rt.handle(s, w, req)
}

// checkSystem checks the system parameters and the sign, as Lazada's
// gateway does, and answers the first failure.
func (s *Sim) checkSystem(w http.ResponseWriter, req *request) bool {
	p := req.params
	app, ok := s.sale.App(order.Lazada)
	switch {
	case p["app_key"] == "":
		s.fail(w, codeMissing, "ISV", "missing required parameter: app_key")
		return false
	case !ok || p["app_key"] != app.Key:
		s.fail(w, codeAppKey, "ISV", "The specified app key is invalid")
		return false
	case p["sign_method"] != "sha256":
		s.fail(w, codeSignMethod, "ISV", "The specified sign method is not supported")
		return false
	case p["sign"] == "":
		s.fail(w, codeSignature, "ISV", "The request signature does not conform to platform standards")
		return false
	case p["timestamp"] == "":
		s.fail(w, codeMissing, "ISV", "missing required parameter: timestamp")
		return false
	}
	want := lazada.SignAPI(app.Secret, req.path, p, nil)
	if !hmac.Equal([]byte(want), []byte(p["sign"])) {
		s.fail(w, codeSignature, "ISV", "The request signature does not conform to platform standards")
		return false
	}
	ts, ok := parseTimestamp(p["timestamp"])
	if d := s.cfg.Clock().Sub(ts); !ok || d > s.cfg.MaxSkew || d < -s.cfg.MaxSkew {
		s.fail(w, codeTimestamp, "ISV", "The specified timestamp is invalid or differs from UTC by more than 7200 s")
		return false
	}
	req.app = app
	return true
}

// parseTimestamp reads a timestamp in milliseconds ("1517886554000") or
// UTC ISO form ("2017-11-11T12:00:00Z"), both of which Lazada accepts.
func parseTimestamp(v string) (time.Time, bool) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 && len(v) <= 16 {
		return time.UnixMilli(ms), true
	}
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

// tokenAnswer is the answer of the token APIs: the fields at the top
// level, next to code.
type tokenAnswer struct {
	AccessToken      string        `json:"access_token"`
	Country          string        `json:"country"`
	RefreshToken     string        `json:"refresh_token"`
	AccountPlatform  string        `json:"account_platform"`
	RefreshExpiresIn int64         `json:"refresh_expires_in"`
	CountryUserInfo  []countryUser `json:"country_user_info"`
	ExpiresIn        int64         `json:"expires_in"`
	Account          string        `json:"account"`
	Code             string        `json:"code"`
	RequestID        string        `json:"request_id"`
}

type countryUser struct {
	Country   string `json:"country"`
	UserID    string `json:"user_id"`
	SellerID  string `json:"seller_id"`
	ShortCode string `json:"short_code"`
}

// grant makes a token API's handler: it takes the grant (the code for
// /auth/token/create, the refresh token for /auth/token/refresh) from
// param and trades it with the sale's Exchange or Refresh, answering
// code and message when the sale refuses it.
func grant(param, code, message string,
	trade func(*sandbox.Sale, order.Platform, string) (sandbox.Shop, marketplace.Token, bool)) func(*Sim, http.ResponseWriter, request) {
	return func(s *Sim, w http.ResponseWriter, req request) {
		v := req.params[param]
		if v == "" {
			s.fail(w, codeMissing, "ISV", "missing required parameter: "+param)
			return
		}
		shop, tok, ok := trade(s.sale, order.Lazada, v)
		if !ok {
			s.fail(w, code, "ISV", message)
			return
		}
		s.token(w, shop, tok)
	}
}

func (s *Sim) token(w http.ResponseWriter, shop sandbox.Shop, tok marketplace.Token) {
	now := s.sale.Now()
	secs := func(t time.Time) int64 { return max(int64(t.Sub(now)/time.Second), 1) }
	country := strings.ToLower(shop.Region)
	writeJSON(w, tokenAnswer{
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Country: country,
		AccountPlatform: "seller_center", ExpiresIn: secs(tok.AccessExpiresAt), RefreshExpiresIn: secs(tok.RefreshExpiresAt),
		CountryUserInfo: []countryUser{{Country: country, UserID: shop.ShopID, SellerID: shop.ShopID,
			ShortCode: strings.ToUpper(country) + shop.ShopID}},
		Account: "seller" + shop.ShopID + "@example.com", Code: "0", RequestID: requestID(),
	})
}

// order looks an order of the request's shop up, answering E016 when the
// API does not know it (yet).
func (s *Sim) order(w http.ResponseWriter, req request) (sandbox.Order, bool) {
	id := req.params["order_id"]
	if id == "" {
		s.fail(w, codeMissing, "ISV", "missing required parameter: order_id")
		return sandbox.Order{}, false
	}
	o, ok := s.sale.Order(order.Key{Platform: order.Lazada, ShopID: req.shop.ShopID, OrderID: id})
	if !ok || !digits(id) {
		s.fail(w, lazada.CodeInvalidOrderID, "ISV", fmt.Sprintf("E016: %q Invalid Order ID", id))
		return sandbox.Order{}, false
	}
	return o, true
}

func (s *Sim) orderGet(w http.ResponseWriter, req request) {
	o, ok := s.order(w, req)
	if !ok {
		return
	}
	s.ok(w, header(o, req.shop.Region, detailTime))
}

func (s *Sim) orderItemsGet(w http.ResponseWriter, req request) {
	o, ok := s.order(w, req)
	if !ok {
		return
	}
	s.ok(w, itemRows(o, req.shop.Region))
}

// ordersItemsGet serves /orders/items/get?order_ids=[1,2]: at most 50
// ids; ids the shop does not have (yet) are left out, and E039 answers
// when none is found.
func (s *Sim) ordersItemsGet(w http.ResponseWriter, req request) {
	raw := strings.TrimSpace(req.params["order_ids"])
	if raw == "" {
		s.fail(w, codeMissing, "ISV", "missing required parameter: order_ids")
		return
	}
	if !strings.HasPrefix(raw, "[") || !strings.HasSuffix(raw, "]") {
		s.fail(w, "56", "ISV", "E056: Invalid OrdersIdList format. Must use array format [1,2]")
		return
	}
	var ids []string
	for f := range strings.SplitSeq(raw[1:len(raw)-1], ",") {
		f = strings.TrimSpace(f)
		if !digits(f) || len(f) > 32 {
			s.fail(w, lazada.CodeBadOrderIDs, "ISV", "E037: One or more order id in the list are incorrect")
			return
		}
		ids = append(ids, f)
	}
	if len(ids) > lazada.MaxBatch {
		s.fail(w, "38", "ISV", "E038: Too many orders were requested")
		return
	}
	type orderItems struct {
		OrderNumber json.Number `json:"order_number"`
		OrderID     json.Number `json:"order_id"`
		OrderItems  []itemRow   `json:"order_items"`
	}
	var out []orderItems
	for _, id := range ids {
		o, ok := s.sale.Order(order.Key{Platform: order.Lazada, ShopID: req.shop.ShopID, OrderID: id})
		if !ok {
			continue
		}
		out = append(out, orderItems{OrderNumber: json.Number(id), OrderID: json.Number(id), OrderItems: itemRows(o, req.shop.Region)})
	}
	if len(out) == 0 {
		s.fail(w, lazada.CodeNoOrders, "ISV", "E039: No orders were found")
		return
	}
	s.ok(w, out)
}

// Statuses /orders/get filters on.
var filterStatuses = []string{"unpaid", "pending", "packed", "canceled", "ready_to_ship", "delivered", "returned",
	"shipped", "failed", "topack", "toship", "lost", "lost_by_3pl", "damaged_by_3pl", "failed_delivery",
	"shipped_back", "shipped_back_success", "shipped_back_failed", "package_scrapped"}

// ordersGet serves /orders/get by update time: update_after (required
// here) and update_before are inclusive and in whole seconds, in
// YYYY-MM-DDTHH:mm:ss±HH:MM; sort_by updated_at or created_at, ASC or
// DESC; offset; limit 1..100 (default 100); status filters on a line
// status.
func (s *Sim) ordersGet(w http.ResponseWriter, req request) {
	p := req.params
	if p["update_after"] == "" {
		s.fail(w, codeMissing, "ISV", "missing required parameter: update_after")
		return
	}
	after, err := time.Parse(lazada.TimeFormat, p["update_after"])
	if err != nil {
		s.fail(w, "17", "ISV", fmt.Sprintf("E017: %q Invalid Date Format", p["update_after"]))
		return
	}
	end := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if v := p["update_before"]; v != "" {
		before, err := time.Parse(lazada.TimeFormat, v)
		if err != nil {
			s.fail(w, "17", "ISV", fmt.Sprintf("E017: %q Invalid Date Format", v))
			return
		}
		end = before.Add(time.Second) // "before or on", at whole seconds
	}
	offset, limit := 0, lazada.MaxPageSize
	if v := p["offset"]; v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			s.fail(w, "14", "ISV", fmt.Sprintf("E014: %q Invalid Offset", v))
			return
		}
	}
	if v := p["limit"]; v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > lazada.MaxPageSize {
			s.fail(w, "19", "ISV", fmt.Sprintf("E019: %q Invalid Limit", v))
			return
		}
	}
	sortBy, dir := p["sort_by"], p["sort_direction"]
	if sortBy != "" && sortBy != "updated_at" && sortBy != "created_at" {
		s.fail(w, "75", "ISV", "E075: Invalid sort filter.")
		return
	}
	if dir != "" && dir != "ASC" && dir != "DESC" {
		s.fail(w, "74", "ISV", "E074: Invalid sort direction.")
		return
	}
	status := p["status"]
	if status != "" && !slices.Contains(filterStatuses, status) {
		s.fail(w, "36", "ISV", "E036: Invalid status filter")
		return
	}
	orders := s.sale.UpdatedBetween(order.Lazada, req.shop.ShopID, after, end)
	if status != "" {
		orders = slices.DeleteFunc(orders, func(o sandbox.Order) bool { return !slices.Contains(lineStatuses(o), status) })
	}
	if sortBy == "created_at" {
		slices.SortStableFunc(orders, func(a, b sandbox.Order) int { return a.CreateTime.Compare(b.CreateTime) })
	}
	if dir == "DESC" { // Lazada's default is DESC; orderlane always asks ASC
		slices.Reverse(orders)
	}
	page := []map[string]any{}
	for i := offset; i < len(orders) && i < offset+limit; i++ {
		page = append(page, header(orders[i], req.shop.Region, time.RFC3339))
	}
	s.ok(w, map[string]any{"count": len(page), "countTotal": len(orders), "orders": page})
}

// detailTime is /order/get's date layout ("2014-10-15 18:36:05 +0800").
const detailTime = "2006-01-02 15:04:05 -0700"

// zone is the local time of a Lazada country: dates are rendered in it.
func zone(region string) *time.Location {
	switch strings.ToLower(region) {
	case "th", "vn", "id":
		return time.FixedZone("UTC+7", 7*3600)
	}
	return time.FixedZone("UTC+8", 8*3600)
}

// lineStatuses are the units' statuses (a unit without one has the
// order's).
func lineStatuses(o sandbox.Order) []string {
	out := make([]string, len(o.Units))
	for i, u := range o.Units {
		out[i] = unitStatus(o, u)
	}
	return out
}

func unitStatus(o sandbox.Order, u sandbox.Unit) string {
	if u.Status != "" {
		return u.Status
	}
	return o.Status
}

// header renders an order as /order/get's data (and /orders/get's
// orders), with dates in layout in the country's time zone. price is the
// units' list prices, before vouchers and shipping, as at Lazada.
func header(o sandbox.Order, region, layout string) map[string]any {
	loc := zone(region)
	price := order.Amount("0")
	var statuses []string
	for _, u := range o.Units {
		price = price.Add(u.UnitPrice)
		if st := unitStatus(o, u); !slices.Contains(statuses, st) {
			statuses = append(statuses, st)
		}
	}
	if statuses == nil {
		statuses = []string{}
	}
	addr := map[string]string{
		"first_name": o.Address.Name, "last_name": "", "phone": o.Address.Phone, "phone2": "",
		"address1": o.Address.Line, "address2": "", "address3": o.Address.State, "address4": "", "address5": "",
		"city": o.Address.City, "post_code": o.Address.Postcode, "country": o.Address.Country,
	}
	return map[string]any{
		"order_id":                       o.OrderID,
		"order_number":                   o.OrderID,
		"created_at":                     o.CreateTime.In(loc).Format(layout),
		"updated_at":                     o.UpdateTime.In(loc).Format(layout),
		"price":                          money(price),
		"shipping_fee":                   money(o.ShippingFee),
		"shipping_fee_original":          money(o.ShippingFee),
		"shipping_fee_discount_seller":   "0.00",
		"shipping_fee_discount_platform": "0.00",
		"voucher":                        "0.00",
		"items_count":                    strconv.Itoa(len(o.Units)),
		"statuses":                       statuses,
		"customer_first_name":            o.Buyer.Username,
		"customer_last_name":             "",
		"payment_method":                 "COD",
		"gift_option":                    "0",
		"warehouse_code":                 "dropshipping",
		"address_shipping":               addr,
		"address_billing":                addr,
	}
}

// itemRow is one row of /order/items/get: one unit.
type itemRow struct {
	OrderItemID      jsonID `json:"order_item_id"`
	OrderID          string `json:"order_id"`
	ProductID        string `json:"product_id,omitempty"`
	SKU              string `json:"sku"`
	ShopSKU          string `json:"shop_sku"`
	Name             string `json:"name"`
	ItemPrice        string `json:"item_price"`
	PaidPrice        string `json:"paid_price"`
	TaxAmount        string `json:"tax_amount"`
	VoucherAmount    string `json:"voucher_amount"`
	ShippingAmount   string `json:"shipping_amount"`
	Currency         string `json:"currency"`
	Status           string `json:"status"`
	Reason           string `json:"reason"`
	TrackingCode     string `json:"tracking_code"`
	ShipmentProvider string `json:"shipment_provider"`
	PackageID        string `json:"package_id"`
	ShippingType     string `json:"shipping_type"`
	BuyerID          string `json:"buyer_id,omitempty"`
	IsDigital        int    `json:"is_digital"`
	CreatedAt        string `json:"created_at"`
	UpdatedAt        string `json:"updated_at"`
}

// itemRows renders an order's units as rows. The sale does not say which
// unit travels in which package: unit i is in package i, the units past
// the last package in the last one.
func itemRows(o sandbox.Order, region string) []itemRow {
	loc := zone(region)
	rows := make([]itemRow, 0, len(o.Units))
	for i, u := range o.Units {
		r := itemRow{
			OrderItemID: jsonID(u.LineID), OrderID: o.OrderID, ProductID: u.ItemID, SKU: u.SKU,
			ShopSKU: u.ItemID + "_" + u.SKU, Name: u.Name, ItemPrice: money(u.UnitPrice), PaidPrice: money(u.PaidPrice),
			TaxAmount: "0.00", VoucherAmount: "0.00", ShippingAmount: "0.00", Currency: o.Currency,
			Status: unitStatus(o, u), ShippingType: "Dropshipping", BuyerID: o.Buyer.ID,
			CreatedAt: o.CreateTime.In(loc).Format(time.RFC3339), UpdatedAt: o.UpdateTime.In(loc).Format(time.RFC3339),
		}
		if n := len(o.Packages); n > 0 {
			p := o.Packages[min(i, n-1)]
			r.PackageID, r.TrackingCode, r.ShipmentProvider = p.ID, p.TrackingNo, p.Carrier
		}
		rows = append(rows, r)
	}
	return rows
}

// money renders an amount as Lazada does: at least two decimals ("20.00").
func money(a order.Amount) string {
	if a == "" {
		a = "0"
	}
	prec := 2
	if _, f, ok := strings.Cut(string(a), "."); ok && len(f) > prec {
		prec = len(f)
	}
	return new(big.Rat).Set(a.Rat()).FloatString(prec)
}

// jsonID is an id rendered as a JSON number when it is all digits (as
// Lazada sends many), else as a string.
type jsonID string

// MarshalJSON implements json.Marshaler.
func (id jsonID) MarshalJSON() ([]byte, error) {
	if digits(string(id)) && len(id) <= 19 {
		return []byte(id), nil
	}
	return json.Marshal(string(id))
}

func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func (s *Sim) ok(w http.ResponseWriter, data any) {
	writeJSON(w, map[string]any{"code": "0", "data": data, "request_id": requestID()})
}

// fail answers Lazada's error envelope, with HTTP 200 as Lazada does.
func (s *Sim) fail(w http.ResponseWriter, code, typ, msg string) {
	writeJSON(w, map[string]string{"code": code, "type": typ, "message": msg, "request_id": requestID()})
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_, _ = w.Write(b)
}

// requestID is a Lazada-like request id (hex).
func requestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Push bodies.

type tradeData struct {
	OrderStatus      string `json:"order_status"`
	TradeOrderID     string `json:"trade_order_id"`
	TradeOrderLineID string `json:"trade_order_line_id"`
	StatusUpdateTime int64  `json:"status_update_time"`
}

type reverseData struct {
	ReverseOrderID     jsonID `json:"reverse_order_id"`
	ReverseOrderLineID jsonID `json:"reverse_order_line_id"`
	ReverseStatus      string `json:"reverse_status"`
	TradeOrderID       jsonID `json:"trade_order_id"`
	TradeOrderLineID   jsonID `json:"trade_order_line_id"`
	BuyerID            jsonID `json:"buyer_id,omitempty"`
	SellerID           jsonID `json:"seller_id"`
	StatusUpdateTime   int64  `json:"status_update_time"`
}

type pushBody struct {
	SellerID    string `json:"seller_id"`
	MessageType int    `json:"message_type"`
	Data        any    `json:"data"`
	Timestamp   int64  `json:"timestamp"`
	Site        string `json:"site"`
}

// Pushes renders c as Lazada's pushes, signed as Lazada signs them
// (lazada.SignPush: lowercase hex HMAC-SHA256(app secret, app key + body),
// header Authorization):
//   - with a Reverse: one reverse order push (message_type 10) per line of
//     c.LineIDs (else of the reverse's lines, else of every unit), with
//     the reverse status;
//   - a status change (order.KindStatus): one trade order push
//     (message_type 0) per line of c.LineIDs (else per unit), with that
//     line's status;
//   - any other change: none, as Lazada has no such push (tracking,
//     documents, packages, address).
//
// The reverse order line id is the reverse's id followed by the line's
// position (Lazada's own are not in the sale).
func (s *Sim) Pushes(c sandbox.Change) ([]sandbox.Push, error) {
	o := c.Order
	if o.Platform != order.Lazada {
		return nil, fmt.Errorf("lazadasim: order %s is on %q", o.OrderID, o.Platform)
	}
	if c.Reverse == nil && (c.Kind == order.KindCancellation || c.Kind == order.KindReturn) {
		return nil, fmt.Errorf("lazadasim: %s change of order %s without its Reverse", c.Kind, o.OrderID)
	}
	if c.Reverse == nil && c.Kind != order.KindStatus {
		return nil, nil
	}
	app, ok := s.sale.App(order.Lazada)
	if !ok || app.Key == "" || app.Secret == "" {
		return nil, errors.New("lazadasim: the sale has no Lazada app")
	}
	region := "sg"
	if sh, ok := s.sale.Shop(order.Lazada, o.ShopID); ok && sh.Region != "" {
		region = strings.ToLower(sh.Region)
	}
	lines := c.LineIDs
	if len(lines) == 0 && c.Reverse != nil {
		lines = c.Reverse.LineIDs
	}
	if len(lines) == 0 {
		for _, u := range o.Units {
			lines = append(lines, u.LineID)
		}
	}
	units := map[string]sandbox.Unit{}
	for _, u := range o.Units {
		units[u.LineID] = u
	}
	now := s.sale.Now().UnixMilli()
	var out []sandbox.Push
	for i, line := range lines {
		u, ok := units[line]
		if !ok {
			return nil, fmt.Errorf("lazadasim: order %s has no line %s", o.OrderID, line)
		}
		b := pushBody{SellerID: o.ShopID, Timestamp: now, Site: "lazada_" + region}
		kind := order.KindStatus
		if r := c.Reverse; r != nil {
			b.MessageType = lazada.TypeReverseOrder
			b.Data = reverseData{
				ReverseOrderID: jsonID(r.ID), ReverseOrderLineID: jsonID(fmt.Sprintf("%s%03d", r.ID, i+1)),
				ReverseStatus: r.Status, TradeOrderID: jsonID(o.OrderID), TradeOrderLineID: jsonID(u.LineID),
				BuyerID: jsonID(o.Buyer.ID), SellerID: jsonID(o.ShopID), StatusUpdateTime: o.UpdateTime.Unix(),
			}
			kind = order.KindReturn
			if strings.HasPrefix(strings.ToUpper(r.Status), "CANCEL") {
				kind = order.KindCancellation
			}
		} else {
			b.MessageType = lazada.TypeTradeOrder
			b.Data = tradeData{OrderStatus: unitStatus(o, u), TradeOrderID: o.OrderID, TradeOrderLineID: u.LineID,
				StatusUpdateTime: o.UpdateTime.Unix()}
		}
		body, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("lazadasim: %w", err)
		}
		out = append(out, sandbox.Push{
			Platform: order.Lazada, Header: "Authorization",
			Signature: lazada.SignPush(app.Key, []byte(app.Secret), body),
			Body:      body, Kind: kind, OrderID: o.OrderID,
		})
	}
	return out, nil
}
