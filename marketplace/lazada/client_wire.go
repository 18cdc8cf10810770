package lazada

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/orderlane/orderlane/marketplace/internal/pushwire"
	"github.com/orderlane/orderlane/order"
)

// ErrBadResponse is wrapped by the errors of a Lazada API answer that is
// not what the API documents (not JSON, a field of the wrong type, an
// amount that is not a decimal, lines of another order, ...).
var ErrBadResponse = errors.New("lazada API: bad response")

// maxLines bounds the order item rows (one per unit) of one order that a
// detail may aggregate.
const maxLines = 5000

// badResponse returns an ErrBadResponse error with a short reason.
func badResponse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadResponse, fmt.Sprintf(format, args...))
}

// apiEnvelope is the part every Lazada Open Platform answer has: code "0" on
// success, else an error code ("IllegalAccessToken", "ApiCallLimit", "16",
// ...) with its type (ISV, ISP, SYSTEM), message and request id.
type apiEnvelope struct {
	Code      pushwire.FlexID `json:"code"`
	Type      string          `json:"type"`
	Message   string          `json:"message"`
	RequestID string          `json:"request_id"`
	Data      json.RawMessage `json:"data"`
}

// decodeEnvelope reads an answer's apiEnvelope. ok reports code "0".
func decodeEnvelope(body []byte) (env apiEnvelope, ok bool, err error) {
	if err := json.Unmarshal(body, &env); err != nil {
		return apiEnvelope{}, false, badResponse("not a JSON object: %v", jsonReason(err))
	}
	if env.Code.Bad {
		return apiEnvelope{}, false, badResponse("code is neither a string nor a number")
	}
	code := string(env.Code.Raw)
	if code == "" {
		return apiEnvelope{}, false, badResponse("code missing")
	}
	return env, code == "0", nil
}

// jsonReason shortens an encoding/json error to its reason (without the
// input's bytes, which may hold personal data).
func jsonReason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return typ.Field + " has the wrong type"
	case errors.As(err, &typ):
		return "wrong JSON type"
	}
	return "undecodable"
}

// flexString is a text field Lazada sends as a string, a number or a
// boolean; null and absence are "".
type flexString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0 || b[0] == 'n':
		*s = ""
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	case b[0] == '{' || b[0] == '[':
		return errors.New("object or array where text was expected")
	default: // a number or a boolean: keep its text exactly
		*s = flexString(b)
	}
	return nil
}

// flexAmount is an amount Lazada sends as a decimal string ("20.00", and
// in some answers with thousands separators, "1,234.00") or as a JSON
// number. It keeps the exact text; it never goes through float64.
type flexAmount struct {
	Raw string // as sent, unquoted; "" when absent, null or empty
}

// UnmarshalJSON implements json.Unmarshaler.
func (a *flexAmount) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	a.Raw = strings.TrimSpace(string(s))
	return nil
}

// amount parses a; an absent amount is "" with no error.
func (a flexAmount) amount(field string) (order.Amount, error) {
	if a.Raw == "" {
		return "", nil
	}
	s := a.Raw
	if strings.Contains(s, ",") {
		if !thousands(s) {
			return "", badResponse("%s is not a decimal amount", field)
		}
		s = strings.ReplaceAll(s, ",", "")
	}
	v, err := order.ParseAmount(s)
	if err != nil {
		return "", badResponse("%s is not a decimal amount", field)
	}
	return v, nil
}

// thousands reports whether s is a decimal with its integer digits grouped
// by commas in threes ("1,234", "-12,345.50").
func thousands(s string) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, _, _ := strings.Cut(s, ".")
	groups := strings.Split(intPart, ",")
	for i, g := range groups {
		if (i == 0 && (len(g) < 1 || len(g) > 3)) || (i > 0 && len(g) != 3) {
			return false
		}
	}
	return len(groups) > 1
}

// Lazada dates: "2014-10-15 18:36:05 +0800" in order details, ISO 8601
// ("2018-02-09T22:44:30+08:00") in lists and items.
var timeLayouts = []string{
	"2006-01-02 15:04:05 -0700",
	time.RFC3339,
	"2006-01-02T15:04:05-0700",
	"2006-01-02 15:04:05-07:00",
}

// parseTime reads a Lazada date in any of its layouts, in UTC. "", "null"
// and absence are the zero time.
func parseTime(field string, s flexString) (time.Time, error) {
	v := strings.TrimSpace(string(s))
	if v == "" || v == "null" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, badResponse("%s is not a date", field)
}

// id validates an identifier the API returned; missing is "".
func id(field string, f pushwire.FlexID) (string, error) {
	s, err := pushwire.ID(field, f)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	return s, nil
}

// text validates a short raw value (status, SKU) that ends up in keys and
// logs: bounded, printable.
func text(field string, s flexString) (string, error) {
	if err := pushwire.CheckText(field, string(s), false); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	return string(s), nil
}

// tokenData is the answer of /auth/token/create and /auth/token/refresh
// (at the top level, next to code and request_id: not under data).
type tokenData struct {
	AccessToken      string            `json:"access_token"`
	RefreshToken     string            `json:"refresh_token"`
	ExpiresIn        pushwire.FlexInt  `json:"expires_in"`
	RefreshExpiresIn pushwire.FlexInt  `json:"refresh_expires_in"`
	Country          string            `json:"country"`
	CountryUserInfo  []countryUserInfo `json:"country_user_info"`
}

type countryUserInfo struct {
	Country   string          `json:"country"`
	SellerID  pushwire.FlexID `json:"seller_id"`
	UserID    pushwire.FlexID `json:"user_id"`
	ShortCode string          `json:"short_code"`
}

// grant is a decoded token answer.
type grant struct {
	access, refresh       string
	accessTTL, refreshTTL time.Duration
	country               string
	sellers               []seller // one per country the token covers
}

type seller struct{ country, sellerID string }

// maxTTL bounds the token lifetimes the client believes.
const maxTTL = 10 * 365 * 24 * time.Hour

// decodeToken decodes a successful token answer.
func decodeToken(body []byte) (grant, error) {
	var d tokenData
	if err := json.Unmarshal(body, &d); err != nil {
		return grant{}, badResponse("token: %s", jsonReason(err))
	}
	if d.AccessToken == "" || d.RefreshToken == "" {
		return grant{}, badResponse("token: access_token or refresh_token missing")
	}
	if len(d.AccessToken) > 512 || len(d.RefreshToken) > 512 {
		return grant{}, badResponse("token: token longer than 512 bytes")
	}
	ttl := func(field string, f pushwire.FlexInt) (time.Duration, error) {
		if f.Bad || !f.Set || f.Value <= 0 {
			return 0, badResponse("token: %s is not a positive number of seconds", field)
		}
		return min(time.Duration(f.Value)*time.Second, maxTTL), nil
	}
	g := grant{access: d.AccessToken, refresh: d.RefreshToken, country: strings.ToLower(d.Country)}
	var err error
	if g.accessTTL, err = ttl("expires_in", d.ExpiresIn); err != nil {
		return grant{}, err
	}
	if d.RefreshExpiresIn.Set {
		if g.refreshTTL, err = ttl("refresh_expires_in", d.RefreshExpiresIn); err != nil {
			return grant{}, err
		}
	}
	for _, u := range d.CountryUserInfo {
		sid, err := id("country_user_info.seller_id", u.SellerID)
		if err != nil {
			return grant{}, err
		}
		g.sellers = append(g.sellers, seller{country: strings.ToLower(u.Country), sellerID: sid})
	}
	return g, nil
}

// address is address_shipping of /order/get.
type address struct {
	FirstName flexString `json:"first_name"`
	LastName  flexString `json:"last_name"`
	Phone     flexString `json:"phone"`
	Address1  flexString `json:"address1"`
	Address2  flexString `json:"address2"`
	Address3  flexString `json:"address3"` // state
	City      flexString `json:"city"`
	PostCode  flexString `json:"post_code"`
	Country   flexString `json:"country"`
}

// orderHeader is data of /order/get: the order without its items.
type orderHeader struct {
	OrderID           pushwire.FlexID `json:"order_id"`
	Statuses          []flexString    `json:"statuses"`
	Price             flexAmount      `json:"price"`
	ShippingFee       flexAmount      `json:"shipping_fee"`
	CreatedAt         flexString      `json:"created_at"`
	UpdatedAt         flexString      `json:"updated_at"`
	CustomerFirstName flexString      `json:"customer_first_name"`
	CustomerLastName  flexString      `json:"customer_last_name"`
	AddressShipping   *address        `json:"address_shipping"`
}

// itemRow is one row of /order/items/get: one unit of the order.
type itemRow struct {
	OrderItemID      pushwire.FlexID `json:"order_item_id"`
	OrderID          pushwire.FlexID `json:"order_id"`
	ProductID        pushwire.FlexID `json:"product_id"`
	SKU              flexString      `json:"sku"`
	ShopSKU          flexString      `json:"shop_sku"`
	Name             flexString      `json:"name"`
	ItemPrice        flexAmount      `json:"item_price"`
	PaidPrice        flexAmount      `json:"paid_price"`
	Currency         flexString      `json:"currency"`
	Status           flexString      `json:"status"`
	TrackingCode     flexString      `json:"tracking_code"`
	ShipmentProvider flexString      `json:"shipment_provider"`
	PackageID        flexString      `json:"package_id"`
	BuyerID          pushwire.FlexID `json:"buyer_id"`
}

// multiItems is one element of data of /orders/items/get.
type multiItems struct {
	OrderID    pushwire.FlexID `json:"order_id"`
	OrderItems []itemRow       `json:"order_items"`
}

// decodeOrderHeader decodes data of /order/get for the order orderID.
func decodeOrderHeader(data []byte, orderID string) (orderHeader, error) {
	var h orderHeader
	if err := json.Unmarshal(data, &h); err != nil {
		return orderHeader{}, badResponse("order: %s", jsonReason(err))
	}
	got, err := id("order.order_id", h.OrderID)
	if err != nil {
		return orderHeader{}, err
	}
	if got != orderID {
		return orderHeader{}, badResponse("order: asked for order %s, got %q", orderID, got)
	}
	return h, nil
}

// decodeItems decodes data of /order/items/get.
func decodeItems(data []byte) ([]itemRow, error) {
	var rows []itemRow
	if err := json.Unmarshal(data, &rows); err != nil {
		return nil, badResponse("order items: %s", jsonReason(err))
	}
	return rows, nil
}

// decodeMultiItems decodes data of /orders/items/get into rows per order
// id.
func decodeMultiItems(data []byte) (map[string][]itemRow, error) {
	var orders []multiItems
	if err := json.Unmarshal(data, &orders); err != nil {
		return nil, badResponse("orders items: %s", jsonReason(err))
	}
	out := make(map[string][]itemRow, len(orders))
	for _, o := range orders {
		oid, err := id("orders.order_id", o.OrderID)
		if err != nil {
			return nil, err
		}
		if oid == "" {
			return nil, badResponse("orders items: order_id missing")
		}
		out[oid] = append(out[oid], o.OrderItems...)
		if len(out[oid]) > maxLines {
			return nil, badResponse("order %s has more than %d item rows", oid, maxLines)
		}
	}
	return out, nil
}

// buildDetail makes an order.Detail from /order/get and the order's item
// rows (one per unit), fetched at fetchedAt.
//
// Items are the units grouped by SKU and line status, in order of first
// appearance: Quantity counts the units, UnitPrice and PaidPrice are those
// of the group's first unit, Status is the line status. Units of one SKU
// in different statuses (one shipped, one canceled) make one item per
// status. Total is the units' paid prices plus shipping_fee (Lazada's own
// "price" is the items' list price, before vouchers and shipping). The
// currency is the items' (all must agree). Packages are the distinct
// package_id / tracking_code pairs, with shipment_provider as carrier.
// Status is OrderStatus of the lines' statuses (of the header's statuses
// when the order has no rows).
func buildDetail(orderID string, h orderHeader, rows []itemRow, fetchedAt time.Time) (order.Detail, error) {
	if len(rows) > maxLines {
		return order.Detail{}, badResponse("order %s has more than %d item rows", orderID, maxLines)
	}
	d := order.Detail{FetchedAt: fetchedAt, Items: []order.Item{}}
	var err error
	if d.CreateTime, err = parseTime("created_at", h.CreatedAt); err != nil {
		return order.Detail{}, err
	}
	if d.UpdateTime, err = parseTime("updated_at", h.UpdatedAt); err != nil {
		return order.Detail{}, err
	}
	if d.ShippingFee, err = h.ShippingFee.amount("shipping_fee"); err != nil {
		return order.Detail{}, err
	}
	total := d.ShippingFee
	if total == "" {
		total = "0"
	}

	type groupKey struct{ sku, status string }
	groups := map[groupKey]int{}
	type pkgKey struct{ id, tracking string }
	pkgs := map[pkgKey]bool{}
	var lineStatuses []string
	for i, r := range rows {
		field := func(name string) string { return fmt.Sprintf("items[%d].%s", i, name) }
		oid, err := id(field("order_id"), r.OrderID)
		if err != nil {
			return order.Detail{}, err
		}
		if oid != "" && oid != orderID {
			return order.Detail{}, badResponse("%s is %q, not the order %s", field("order_id"), oid, orderID)
		}
		if _, err := id(field("order_item_id"), r.OrderItemID); err != nil {
			return order.Detail{}, err
		}
		status, err := text(field("status"), r.Status)
		if err != nil {
			return order.Detail{}, err
		}
		sku, err := text(field("sku"), r.SKU)
		if err != nil {
			return order.Detail{}, err
		}
		if sku == "" {
			if sku, err = text(field("shop_sku"), r.ShopSKU); err != nil {
				return order.Detail{}, err
			}
		}
		productID, err := id(field("product_id"), r.ProductID)
		if err != nil {
			return order.Detail{}, err
		}
		unitPrice, err := r.ItemPrice.amount(field("item_price"))
		if err != nil {
			return order.Detail{}, err
		}
		paid, err := r.PaidPrice.amount(field("paid_price"))
		if err != nil {
			return order.Detail{}, err
		}
		if paid == "" {
			return order.Detail{}, badResponse("%s missing", field("paid_price"))
		}
		currency, err := text(field("currency"), r.Currency)
		if err != nil {
			return order.Detail{}, err
		}
		switch {
		case currency == "":
		case d.Currency == "":
			d.Currency = currency
		case currency != d.Currency:
			return order.Detail{}, badResponse("items in %s and %s", d.Currency, currency)
		}
		if d.Buyer.ID == "" {
			if d.Buyer.ID, err = id(field("buyer_id"), r.BuyerID); err != nil {
				return order.Detail{}, err
			}
		}
		total = total.Add(paid)
		lineStatuses = append(lineStatuses, status)

		k := groupKey{sku, status}
		if gi, ok := groups[k]; ok {
			d.Items[gi].Quantity++
		} else {
			groups[k] = len(d.Items)
			d.Items = append(d.Items, order.Item{ItemID: productID, SKU: sku, Name: string(r.Name), Quantity: 1,
				UnitPrice: unitPrice, PaidPrice: paid, Status: status})
		}

		pk := pkgKey{string(r.PackageID), string(r.TrackingCode)}
		if (pk.id != "" || pk.tracking != "") && !pkgs[pk] {
			pkgs[pk] = true
			d.Packages = append(d.Packages, order.Package{ID: pk.id, TrackingNo: pk.tracking, Carrier: string(r.ShipmentProvider)})
		}
	}
	d.Total = total
	if len(lineStatuses) == 0 {
		for i, s := range h.Statuses {
			st, err := text(fmt.Sprintf("statuses[%d]", i), s)
			if err != nil {
				return order.Detail{}, err
			}
			lineStatuses = append(lineStatuses, st)
		}
	}
	d.Status = OrderStatus(lineStatuses)
	d.Buyer.Username = strings.TrimSpace(string(h.CustomerFirstName) + " " + string(h.CustomerLastName))
	if a := h.AddressShipping; a != nil && *a != (address{}) {
		line := string(a.Address1)
		if a.Address2 != "" {
			line += ", " + string(a.Address2)
		}
		d.Address = &order.Address{
			Name:     strings.TrimSpace(string(a.FirstName) + " " + string(a.LastName)),
			Phone:    string(a.Phone),
			Line:     line,
			City:     string(a.City),
			State:    string(a.Address3),
			Postcode: string(a.PostCode),
			Country:  string(a.Country),
		}
	}
	return d, nil
}

// listData is data of /orders/get.
type listData struct {
	Count      pushwire.FlexInt `json:"count"`
	CountTotal pushwire.FlexInt `json:"countTotal"`
	Orders     []listOrder      `json:"orders"`
}

type listOrder struct {
	OrderID   pushwire.FlexID `json:"order_id"`
	Statuses  []flexString    `json:"statuses"`
	UpdatedAt flexString      `json:"updated_at"`
}

// decodeList decodes data of /orders/get. total is countTotal, or -1 when
// the answer has none.
func decodeList(data []byte) (refs []orderRef, total int64, err error) {
	var l listData
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, 0, badResponse("orders: %s", jsonReason(err))
	}
	if l.CountTotal.Bad {
		return nil, 0, badResponse("orders: countTotal is not a number")
	}
	total = -1
	if l.CountTotal.Set {
		total = l.CountTotal.Value
	}
	for i, o := range l.Orders {
		oid, err := id(fmt.Sprintf("orders[%d].order_id", i), o.OrderID)
		if err != nil {
			return nil, 0, err
		}
		if oid == "" {
			return nil, 0, badResponse("orders[%d].order_id missing", i)
		}
		var statuses []string
		for j, s := range o.Statuses {
			st, err := text(fmt.Sprintf("orders[%d].statuses[%d]", i, j), s)
			if err != nil {
				return nil, 0, err
			}
			statuses = append(statuses, st)
		}
		ut, err := parseTime(fmt.Sprintf("orders[%d].updated_at", i), o.UpdatedAt)
		if err != nil {
			return nil, 0, err
		}
		refs = append(refs, orderRef{id: oid, status: OrderStatus(statuses), updated: ut})
	}
	return refs, total, nil
}

type orderRef struct {
	id, status string
	updated    time.Time
}

// statusRank orders the statuses of live lines (neither canceled nor
// returned) along the fulfilment path.
var statusRank = map[string]int{
	"unpaid":          1,
	"pending":         2,
	"topack":          3,
	"packed":          3,
	"repacked":        3,
	"toship":          4,
	"ready_to_ship":   4,
	"shipped":         5,
	"failed_delivery": 6,
	"lost_by_3pl":     6,
	"damaged_by_3pl":  6,
	"delivered":       7,
	"shipped_back":    8,
}

// unknownRank places a status outside statusRank after every known one.
const unknownRank = 100

// OrderStatus is the one rule for a Lazada order's order-level status,
// which Lazada does not send (it keeps a status per line, and /order/get
// lists the distinct ones): the least advanced status among the live
// lines, those neither canceled nor returned, so the order is as far as
// its slowest line, along unpaid < pending < topack/packed/repacked <
// toship/ready_to_ship < shipped < failed_delivery/lost_by_3pl/
// damaged_by_3pl < delivered < shipped_back. A status outside that path
// (one Lazada added later) counts as more advanced than every known one,
// so it never hides a line still on the known path; among equals the
// first line wins. With no live line the order is "returned" when any
// line was returned, else "canceled". Case is ignored and the result is
// lower case; "cancelled" counts as "canceled"; empty line statuses are
// skipped, and with no status at all the result is "".
func OrderStatus(lines []string) string {
	best, bestRank := "", 0
	returned, canceled := false, false
	for _, s := range lines {
		switch s = lower(s); s {
		case "":
		case "canceled", "cancelled":
			canceled = true
		case "returned":
			returned = true
		default:
			r, ok := statusRank[s]
			if !ok {
				r = unknownRank
			}
			if best == "" || r < bestRank {
				best, bestRank = s, r
			}
		}
	}
	switch {
	case best != "":
		return best
	case returned:
		return "returned"
	case canceled:
		return "canceled"
	}
	return ""
}
