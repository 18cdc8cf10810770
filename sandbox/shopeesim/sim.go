// Package shopeesim is a faithful fake of Shopee Open Platform v2 over a
// sandbox.Sale: the API endpoints orderlane calls (token exchange and
// refresh, order list and detail, package detail, the lost-push queue),
// signed, timestamp-checked and rate limited as Shopee does, and the
// order pushes (codes 3, 4, 15, 29, 30) signed with the live push key over
// the callback URL.
//
// Where Shopee's documentation is silent the fake makes a stated choice:
// sign and token failures answer HTTP 403, parameter errors (a stale
// timestamp among them) 400, the rate
// limit 429 with error "error_rate_limit", all in Shopee's envelope
// {"error", "message", "request_id"}. The expired-token error keeps
// Shopee's own spelling, "invalid_acceess_token".
package shopeesim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/internal/simwire"
)

// Config configures a Sim.
type Config struct {
	// CallbackURL is the push URL registered in the console: pushes are
	// signed over CallbackURL + "|" + body. Required for Pushes.
	CallbackURL string
	// RatePerSecond and Burst limit API calls per path and shop (per path
	// and partner for public APIs); over it the Sim answers 429. Zero
	// RatePerSecond means unlimited; Burst defaults to 1.
	RatePerSecond float64
	Burst         int
	// TimestampWindow is how far a request's timestamp may lie from
	// Clock. Defaults to 5 minutes, as Shopee documents.
	TimestampWindow time.Duration
	// Clock is Shopee's real clock, against which request timestamps are
	// checked, and for nothing else: tokens, visibility and update times
	// follow the sale's (simulated) clock. Defaults to time.Now.
	Clock func() time.Time
}

// Sim is the fake. It is safe for concurrent use.
type Sim struct {
	sale *sandbox.Sale
	cfg  Config

	limits   *simwire.Limits
	throttle atomic.Int64

	lostMu sync.Mutex
	lost   []lostPush
	lastID int64
}

// lostPush is a push the delivery engine decided to lose, as the
// lost-push queue keeps it.
type lostPush struct {
	id        int64
	shopID    int64
	code      int64
	timestamp int64
	data      string
}

var _ sandbox.Marketplace = (*Sim)(nil)

// Lost-push queue bounds: the page size Shopee documents, and a cap on
// what the fake keeps.
const (
	lostPushPage = 100
	maxLost      = 100_000
	maxBody      = 64 << 10
)

// New returns a Sim serving sale.
func New(sale *sandbox.Sale, cfg Config) *Sim {
	if cfg.TimestampWindow <= 0 {
		cfg.TimestampWindow = 5 * time.Minute
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 1
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Sim{sale: sale, cfg: cfg, limits: simwire.NewLimits(cfg.RatePerSecond, cfg.Burst)}
}

// Platform is order.Shopee.
func (s *Sim) Platform() order.Platform { return order.Shopee }

// Throttled counts the requests the Sim refused with 429.
func (s *Sim) Throttled() int64 { return s.throttle.Load() }

// apiErr is an error answer in Shopee's envelope.
type apiErr struct {
	status  int
	code    string
	message string
}

func (e *apiErr) Error() string { return e.code + ": " + e.message }

func errParam(format string, args ...any) *apiErr {
	return &apiErr{http.StatusBadRequest, "error_param", fmt.Sprintf(format, args...)}
}

var (
	errSign        = &apiErr{http.StatusForbidden, "error_sign", "Wrong sign."}
	errPartner     = &apiErr{http.StatusForbidden, "error_auth", "Invalid partner_id."}
	errAccessToken = &apiErr{http.StatusForbidden, "invalid_acceess_token", "Invalid access_token."}
	errTimestamp   = &apiErr{http.StatusBadRequest, "error_param", "Invalid timestamp: it must be within 5 minutes of the server's time."}
	errRate        = &apiErr{http.StatusTooManyRequests, "error_rate_limit", "Too many requests, please try again later."}
	errNotFound    = &apiErr{http.StatusNotFound, "error_not_found", "Api not found."}
)

// route is one endpoint: its method, whether it is a shop API (signed
// with access_token and shop_id), and its handler.
type route struct {
	method string
	shop   bool
	handle func(s *Sim, c *call) (any, *apiErr)
}

// call is one verified request.
type call struct {
	r      *http.Request
	app    sandbox.App
	shop   sandbox.Shop // shop APIs only
	shopID int64
	body   []byte
}

var routes = map[string]route{
	shopee.PathTokenGet:        {http.MethodPost, false, (*Sim).tokenGet},
	shopee.PathAccessTokenGet:  {http.MethodPost, false, (*Sim).accessTokenGet},
	shopee.PathOrderList:       {http.MethodGet, true, (*Sim).orderList},
	shopee.PathOrderDetail:     {http.MethodGet, true, (*Sim).orderDetail},
	shopee.PathPackageDetail:   {http.MethodGet, true, (*Sim).packageDetail},
	shopee.PathLostPush:        {http.MethodGet, false, (*Sim).lostPushes},
	shopee.PathConfirmLostPush: {http.MethodPost, false, (*Sim).confirmLostPushes},
}

// Handler serves the Open API endpoints the orderlane client calls.
func (s *Sim) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Sim) serve(w http.ResponseWriter, r *http.Request) {
	rid := requestID()
	rt, ok := routes[r.URL.Path]
	if !ok {
		writeErr(w, rid, errNotFound)
		return
	}
	if r.Method != rt.method {
		writeErr(w, rid, errParam("method %s is not supported, use %s", r.Method, rt.method))
		return
	}
	c, e := s.verify(r, rt.shop)
	if e != nil {
		writeErr(w, rid, e)
		return
	}
	if e := s.limit(r.URL.Path, c); e != nil {
		writeErr(w, rid, e)
		return
	}
	if r.Method == http.MethodPost {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(b) > maxBody {
			writeErr(w, rid, errParam("request body unreadable or over %d bytes", maxBody))
			return
		}
		c.body = b
	}
	resp, e := rt.handle(s, c)
	if e != nil {
		writeErr(w, rid, e)
		return
	}
	writeJSON(w, http.StatusOK, resp, rid)
}

// verify checks the common parameters as Shopee does: partner_id, the
// signature over partner_id + path + timestamp (+ access_token + shop_id
// for shop APIs) with the partner key, the timestamp's freshness, and for
// shop APIs the access token's validity for shop_id.
func (s *Sim) verify(r *http.Request, shopAPI bool) (*call, *apiErr) {
	q := r.URL.Query()
	app, ok := s.sale.App(order.Shopee)
	if !ok {
		return nil, &apiErr{http.StatusInternalServerError, "error_server", "no Shopee app registered in the sale"}
	}
	for _, p := range []string{"partner_id", "timestamp", "sign"} {
		if len(q[p]) != 1 || q.Get(p) == "" {
			return nil, errParam("Missing or repeated %s.", p)
		}
	}
	if q.Get("partner_id") != app.Key {
		return nil, errPartner
	}
	ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if err != nil {
		return nil, errParam("Invalid timestamp.")
	}
	c := &call{r: r, app: app}
	var token, shopID string
	if shopAPI {
		for _, p := range []string{"access_token", "shop_id"} {
			if len(q[p]) != 1 || q.Get(p) == "" {
				return nil, errParam("Missing or repeated %s.", p)
			}
		}
		token, shopID = q.Get("access_token"), q.Get("shop_id")
		if c.shopID, err = strconv.ParseInt(shopID, 10, 64); err != nil || c.shopID <= 0 {
			return nil, errParam("Invalid shop_id.")
		}
	}
	if !validSign(app.Secret, app.Key+r.URL.Path+q.Get("timestamp")+token+shopID, q.Get("sign")) {
		return nil, errSign
	}
	now := s.cfg.Clock().Unix()
	window := int64(s.cfg.TimestampWindow / time.Second)
	if ts < now-window || ts > now+window {
		return nil, errTimestamp
	}
	if shopAPI {
		shop, ok := s.sale.Authorize(order.Shopee, token)
		if !ok || shop.ShopID != strconv.FormatInt(c.shopID, 10) {
			return nil, errAccessToken
		}
		c.shop = shop
	}
	return c, nil
}

// validSign recomputes lowercase hex HMAC-SHA256(key, base) and compares
// it with sign in constant time.
func validSign(key, base, sign string) bool {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(base))
	want := hex.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(want), []byte(sign))
}

// limit applies the per path and shop (or partner) rate limit.
func (s *Sim) limit(path string, c *call) *apiErr {
	key := path + "|" + c.app.Key
	if c.shopID != 0 {
		key = path + "|" + strconv.FormatInt(c.shopID, 10)
	}
	if !s.limits.Allow(key) {
		s.throttle.Add(1)
		return errRate
	}
	return nil
}

// tokenBody is the body of both token endpoints.
type tokenBody struct {
	Code         string      `json:"code"`
	RefreshToken string      `json:"refresh_token"`
	ShopID       json.Number `json:"shop_id"`
	PartnerID    json.Number `json:"partner_id"`
}

func (c *call) tokenBody() (tokenBody, *apiErr) {
	var b tokenBody
	if err := json.Unmarshal(c.body, &b); err != nil {
		return b, errParam("Request body is not valid JSON.")
	}
	if b.PartnerID.String() != c.app.Key {
		return b, errParam("partner_id in the body does not match the query.")
	}
	if !isDigits(b.ShopID.String()) {
		return b, errParam("Invalid shop_id.")
	}
	return b, nil
}

// tokenAnswer is what token/get and access_token/get return.
type tokenAnswer struct {
	Error        string `json:"error"`
	Message      string `json:"message"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpireIn     int64  `json:"expire_in"`
	PartnerID    int64  `json:"partner_id,omitempty"`
	ShopID       int64  `json:"shop_id,omitempty"`
}

func (s *Sim) tokenGet(c *call) (any, *apiErr) {
	b, e := c.tokenBody()
	if e != nil {
		return nil, e
	}
	if b.Code == "" {
		return nil, errParam("Missing code.")
	}
	shop, tok, ok := s.sale.Exchange(order.Shopee, b.Code)
	if !ok || shop.ShopID != b.ShopID.String() {
		return nil, &apiErr{http.StatusForbidden, "error_auth", "Invalid code."}
	}
	return tokenAnswer{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken,
		ExpireIn: s.expireIn(tok.AccessExpiresAt)}, nil
}

func (s *Sim) accessTokenGet(c *call) (any, *apiErr) {
	b, e := c.tokenBody()
	if e != nil {
		return nil, e
	}
	if b.RefreshToken == "" {
		return nil, errParam("Missing refresh_token.")
	}
	shop, tok, ok := s.sale.Refresh(order.Shopee, b.RefreshToken)
	if !ok || shop.ShopID != b.ShopID.String() {
		return nil, &apiErr{http.StatusForbidden, "error_auth", "Invalid refresh_token."}
	}
	pid, _ := strconv.ParseInt(c.app.Key, 10, 64)
	sid, _ := strconv.ParseInt(shop.ShopID, 10, 64)
	return tokenAnswer{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken,
		ExpireIn: s.expireIn(tok.AccessExpiresAt), PartnerID: pid, ShopID: sid}, nil
}

func (s *Sim) expireIn(at time.Time) int64 {
	return max(int64(at.Sub(s.sale.Now())/time.Second), 1)
}

// wrapped is the answer of the non-token APIs: the envelope with the
// payload under "response".
type wrapped struct {
	Error    string   `json:"error"`
	Message  string   `json:"message"`
	Warning  []string `json:"warning,omitempty"`
	Response any      `json:"response"`
}

// orderList serves get_order_list: orders of the shop whose update_time
// (or create_time) lies in [time_from, time_to], both inclusive, at most
// 15 days apart, oldest first, paged by an offset cursor.
func (s *Sim) orderList(c *call) (any, *apiErr) {
	q := c.r.URL.Query()
	field := q.Get("time_range_field")
	if field != "update_time" && field != "create_time" {
		return nil, errParam("time_range_field must be create_time or update_time.")
	}
	from, err1 := strconv.ParseInt(q.Get("time_from"), 10, 64)
	to, err2 := strconv.ParseInt(q.Get("time_to"), 10, 64)
	if err1 != nil || err2 != nil || from < 0 || to < from {
		return nil, errParam("time_from and time_to must be Unix times with time_from <= time_to.")
	}
	if to-from > int64(shopee.MaxListWindow/time.Second) {
		return nil, errParam("The time range of time_from and time_to can not exceed 15 days.")
	}
	size, err := strconv.Atoi(q.Get("page_size"))
	if err != nil || size < 1 || size > shopee.MaxPageSize {
		return nil, errParam("page_size must be within [1,100].")
	}
	offset := 0
	if cur := q.Get("cursor"); cur != "" {
		if offset, err = strconv.Atoi(cur); err != nil || offset < 0 {
			return nil, errParam("Invalid cursor.")
		}
	}
	withStatus := slices.Contains(strings.Split(q.Get("response_optional_fields"), ","), "order_status")

	lo, hi := time.Unix(from, 0), time.Unix(to+1, 0)
	var orders []sandbox.Order
	if field == "update_time" {
		orders = s.sale.UpdatedBetween(order.Shopee, c.shop.ShopID, lo, hi)
	} else {
		for _, o := range s.visible(c.shop.ShopID) {
			if !o.CreateTime.Before(lo) && o.CreateTime.Before(hi) {
				orders = append(orders, o)
			}
		}
		slices.SortFunc(orders, func(a, b sandbox.Order) int {
			if x := a.CreateTime.Compare(b.CreateTime); x != 0 {
				return x
			}
			return strings.Compare(a.OrderID, b.OrderID)
		})
	}
	type entry struct {
		OrderSN     string `json:"order_sn"`
		OrderStatus string `json:"order_status,omitempty"`
	}
	page := struct {
		More       bool    `json:"more"`
		NextCursor string  `json:"next_cursor"`
		OrderList  []entry `json:"order_list"`
	}{OrderList: []entry{}}
	for i := offset; i < len(orders) && i < offset+size; i++ {
		e := entry{OrderSN: orders[i].OrderID}
		if withStatus {
			e.OrderStatus = orders[i].Status
		}
		page.OrderList = append(page.OrderList, e)
	}
	if offset+size < len(orders) {
		page.More, page.NextCursor = true, strconv.Itoa(offset+size)
	}
	return wrapped{Response: page}, nil
}

// visible returns the shop's orders the API serves now.
func (s *Sim) visible(shopID string) []sandbox.Order {
	var out []sandbox.Order
	for _, o := range s.sale.Orders() {
		if o.Platform != order.Shopee || o.ShopID != shopID {
			continue
		}
		if v, ok := s.sale.Order(order.Key{Platform: order.Shopee, ShopID: shopID, OrderID: o.OrderID}); ok {
			out = append(out, v)
		}
	}
	return out
}

// idList splits a comma-separated list of 1..50 ids.
func idList(q string, name string) ([]string, *apiErr) {
	if q == "" {
		return nil, errParam("Missing %s.", name)
	}
	ids := strings.Split(q, ",")
	if len(ids) > shopee.MaxDetailBatch {
		return nil, errParam("%s limit [1,50].", name)
	}
	for _, id := range ids {
		if id == "" {
			return nil, errParam("%s has an empty entry.", name)
		}
	}
	return ids, nil
}

// orderDetail serves get_order_detail. Only the optional fields named in
// response_optional_fields appear; an order_sn that is not (yet) visible
// is left out of order_list and named in "warning".
func (s *Sim) orderDetail(c *call) (any, *apiErr) {
	q := c.r.URL.Query()
	ids, e := idList(q.Get("order_sn_list"), "order_sn_list")
	if e != nil {
		return nil, e
	}
	opt := map[string]bool{}
	for _, f := range strings.Split(q.Get("response_optional_fields"), ",") {
		opt[strings.TrimSpace(f)] = true
	}
	list := []map[string]any{}
	var warning []string
	for _, id := range ids {
		o, ok := s.sale.Order(order.Key{Platform: order.Shopee, ShopID: c.shop.ShopID, OrderID: id})
		if !ok {
			warning = append(warning, "order_sn "+id+" not found")
			continue
		}
		list = append(list, renderOrder(&o, c.shop, opt))
	}
	return wrapped{Warning: warning, Response: map[string]any{"order_list": list}}, nil
}

// renderOrder renders o as get_order_detail does: the default fields,
// plus the optional ones requested. Units of one SKU become one item row
// with model_quantity_purchased.
func renderOrder(o *sandbox.Order, shop sandbox.Shop, opt map[string]bool) map[string]any {
	m := map[string]any{
		"order_sn": o.OrderID, "region": shop.Region, "currency": o.Currency, "cod": false,
		"order_status": o.Status, "message_to_seller": "", "days_to_ship": 3,
		"create_time": o.CreateTime.Unix(), "update_time": o.UpdateTime.Unix(),
	}
	if opt["total_amount"] {
		m["total_amount"] = json.Number(o.Total())
	}
	if opt["estimated_shipping_fee"] {
		m["estimated_shipping_fee"] = number(o.ShippingFee)
	}
	if opt["buyer_user_id"] {
		id, _ := strconv.ParseInt(o.Buyer.ID, 10, 64)
		m["buyer_user_id"] = id
	}
	if opt["buyer_username"] {
		m["buyer_username"] = o.Buyer.Username
	}
	if opt["recipient_address"] {
		a := o.Address
		m["recipient_address"] = map[string]any{"name": a.Name, "phone": a.Phone, "town": "", "district": "",
			"city": a.City, "state": a.State, "region": a.Country, "zipcode": a.Postcode, "full_address": a.Line}
	}
	carrier := ""
	if len(o.Packages) > 0 {
		carrier = o.Packages[0].Carrier
	}
	if opt["shipping_carrier"] {
		m["shipping_carrier"] = carrier
	}
	if opt["item_list"] {
		m["item_list"] = renderItems(o)
	}
	if opt["package_list"] {
		pkgs := []map[string]any{}
		for _, p := range o.Packages {
			pkgs = append(pkgs, map[string]any{"package_number": p.ID, "logistics_status": p.Status,
				"shipping_carrier": p.Carrier, "logistics_channel_id": 0, "allow_self_design_awb": false, "item_list": []any{}})
		}
		m["package_list"] = pkgs
	}
	return m
}

func renderItems(o *sandbox.Order) []map[string]any {
	rows := []map[string]any{}
	idx := map[string]int{}
	for _, u := range o.Units {
		if i, ok := idx[u.SKU]; ok {
			rows[i]["model_quantity_purchased"] = rows[i]["model_quantity_purchased"].(int) + 1
			continue
		}
		idx[u.SKU] = len(rows)
		itemID, _ := strconv.ParseInt(u.ItemID, 10, 64)
		rows = append(rows, map[string]any{
			"item_id": itemID, "item_name": u.Name, "item_sku": "", "model_id": 0, "model_name": "",
			"model_sku": u.SKU, "model_quantity_purchased": 1,
			"model_original_price": number(u.UnitPrice), "model_discounted_price": number(u.PaidPrice),
			"wholesale": false, "weight": 0, "add_on_deal": false, "main_item": false,
		})
	}
	return rows
}

// number renders an amount as a JSON number ("" as 0).
func number(a order.Amount) json.Number {
	if a == "" {
		return "0"
	}
	return json.Number(a)
}

// packageDetail serves get_package_detail for the shop's visible orders;
// unknown package numbers are left out.
func (s *Sim) packageDetail(c *call) (any, *apiErr) {
	ids, e := idList(c.r.URL.Query().Get("package_number_list"), "package_number_list")
	if e != nil {
		return nil, e
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	list := []map[string]any{}
	for _, o := range s.visible(c.shop.ShopID) {
		for _, p := range o.Packages {
			if want[p.ID] {
				list = append(list, map[string]any{"order_sn": o.OrderID, "package_number": p.ID,
					"fulfillment_status": p.Status, "update_time": o.UpdateTime.Unix(),
					"shipping_carrier": p.Carrier, "tracking_number": p.TrackingNo, "item_list": []any{}})
			}
		}
	}
	return wrapped{Response: map[string]any{"package_list": list}}, nil
}

// Lose records a push the delivery engine decided not to deliver: the
// lost-push endpoints serve it until confirmed.
func (s *Sim) Lose(p sandbox.Push) error {
	var env struct {
		ShopID    json.Number     `json:"shop_id"`
		Code      json.Number     `json:"code"`
		Timestamp json.Number     `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(p.Body, &env); err != nil {
		return fmt.Errorf("shopeesim: lose: %w", err)
	}
	code, err := env.Code.Int64()
	if err != nil {
		return errors.New("shopeesim: lose: push has no code")
	}
	shopID, _ := env.ShopID.Int64()
	ts, _ := env.Timestamp.Int64()
	s.lostMu.Lock()
	defer s.lostMu.Unlock()
	if len(s.lost) >= maxLost {
		return errors.New("shopeesim: lose: lost-push queue full")
	}
	s.lastID++
	s.lost = append(s.lost, lostPush{id: s.lastID, shopID: shopID, code: code, timestamp: ts, data: string(env.Data)})
	return nil
}

// lostPushes serves get_lost_push_message: the earliest 100 unconfirmed
// lost pushes.
func (s *Sim) lostPushes(*call) (any, *apiErr) {
	s.lostMu.Lock()
	defer s.lostMu.Unlock()
	type msg struct {
		ShopID    int64  `json:"shop_id,omitempty"`
		Code      int64  `json:"code"`
		Timestamp int64  `json:"timestamp"`
		Data      string `json:"data"`
	}
	page := struct {
		List        []msg `json:"push_message_list"`
		HasNextPage bool  `json:"has_next_page"`
		LastID      int64 `json:"last_message_id"`
	}{List: []msg{}}
	n := min(len(s.lost), lostPushPage)
	for _, l := range s.lost[:n] {
		page.List = append(page.List, msg{ShopID: l.shopID, Code: l.code, Timestamp: l.timestamp, Data: l.data})
	}
	if n > 0 {
		page.LastID = s.lost[n-1].id
	}
	page.HasNextPage = len(s.lost) > n
	return wrapped{Response: page}, nil
}

// confirmLostPushes serves confirm_consumed_lost_push_message: every lost
// push up to last_message_id is dropped.
func (s *Sim) confirmLostPushes(c *call) (any, *apiErr) {
	var b struct {
		LastMessageID json.Number `json:"last_message_id"`
	}
	if err := json.Unmarshal(c.body, &b); err != nil {
		return nil, errParam("Request body is not valid JSON.")
	}
	id, err := b.LastMessageID.Int64()
	if err != nil || id <= 0 {
		return nil, errParam("Invalid last_message_id.")
	}
	s.lostMu.Lock()
	defer s.lostMu.Unlock()
	s.lost = slices.DeleteFunc(s.lost, func(l lostPush) bool { return l.id <= id })
	return struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{}, nil
}

func writeErr(w http.ResponseWriter, rid string, e *apiErr) {
	writeJSON(w, e.status, struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{e.code, e.message}, rid)
}

// writeJSON writes v with request_id added at the top level.
func writeJSON(w http.ResponseWriter, status int, v any, rid string) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"error_server","message":"encoding failed"}`)
	}
	// Every answer is a JSON object: splice request_id in front.
	b = append([]byte(`{"request_id":"`+rid+`",`), b[1:]...)
	if len(b) > 0 && string(b[len(b)-2:]) == ",}" {
		b = append(b[:len(b)-2], '}')
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
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
