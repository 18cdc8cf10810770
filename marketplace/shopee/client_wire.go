package shopee

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
)

// Bounds on what the decoders accept from one response.
const (
	maxOrdersPerResponse   = 1000
	maxItemsPerOrder       = 1000
	maxPackagesPerOrder    = 200
	maxLostPushesPerPage   = 1000
	maxTextLen             = 2048 // names, addresses, messages
	maxTokenLifetime       = 366 * 24 * time.Hour
	maxMessageInError      = 256
	maxLostPushDataLen     = 64 << 10
	unixSecondsUpperBound  = 1 << 40 // far beyond any real timestamp
	errMalformedResponse   = "malformed response"
	errMissingResponseBody = "response object missing"
)

// ErrMalformedResponse is wrapped by the decoders' errors: a response that
// is not the shape Shopee documents, or breaks a bound.
var ErrMalformedResponse = errors.New("shopee API: " + errMalformedResponse)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedResponse, fmt.Sprintf(format, args...))
}

// apiEnvelope is what every v2 response carries at the top level: error ""
// means success. Token responses put their fields beside it; the others
// nest them under "response".
type apiEnvelope struct {
	Error     string          `json:"error"`
	Message   string          `json:"message"`
	RequestID string          `json:"request_id"`
	Response  json.RawMessage `json:"response"`
}

// envelopeError returns the *marketplace.APIError a body reports, or nil
// when it reports none (or is not a JSON object at all).
func envelopeError(status int, body []byte) error {
	var env apiEnvelope
	if !decodes(body, &env) || env.Error == "" {
		return nil // no error envelope (a body that is not JSON is judged by its status)
	}
	return &marketplace.APIError{
		Platform: order.Shopee, Status: status, Code: clip(env.Error, maxMessageInError),
		Message: clip(env.Message, maxMessageInError), RequestID: clip(env.RequestID, maxMessageInError),
		Kind: errorKind(env.Error, status),
	}
}

// open decodes the apiEnvelope of a successful answer and returns its
// "response" object.
func open(body []byte) (json.RawMessage, error) {
	if e := envelopeError(200, body); e != nil {
		return nil, e
	}
	var env apiEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, malformed("%v", err)
	}
	if len(env.Response) == 0 || bytes.Equal(env.Response, []byte("null")) {
		return nil, malformed(errMissingResponseBody)
	}
	return env.Response, nil
}

// tokenWire is the answer of token/get and access_token/get.
type tokenWire struct {
	AccessToken  string      `json:"access_token"`
	RefreshToken string      `json:"refresh_token"`
	ExpireIn     json.Number `json:"expire_in"`
}

// decodeToken maps a token answer received at now.
func decodeToken(body []byte, now time.Time) (marketplace.Token, error) {
	if e := envelopeError(200, body); e != nil {
		return marketplace.Token{}, e
	}
	var w tokenWire
	if err := json.Unmarshal(body, &w); err != nil {
		return marketplace.Token{}, malformed("%v", err)
	}
	if w.AccessToken == "" || w.RefreshToken == "" || len(w.AccessToken) > refreshTokenMaxLen || len(w.RefreshToken) > refreshTokenMaxLen {
		return marketplace.Token{}, malformed("access_token or refresh_token missing or too long")
	}
	secs, err := strconv.ParseInt(w.ExpireIn.String(), 10, 64)
	if err != nil || secs <= 0 || time.Duration(secs)*time.Second > maxTokenLifetime {
		return marketplace.Token{}, malformed("expire_in is not a positive number of seconds")
	}
	return marketplace.Token{
		AccessToken: w.AccessToken, RefreshToken: w.RefreshToken,
		AccessExpiresAt:  now.Add(time.Duration(secs) * time.Second),
		RefreshExpiresAt: now.Add(RefreshTokenLifetime),
	}, nil
}

// detailWire is get_order_detail's response. Amounts are JSON numbers,
// read as their exact text.
type detailWire struct {
	OrderList []orderWire `json:"order_list"`
}

type orderWire struct {
	OrderSN              string        `json:"order_sn"`
	OrderStatus          string        `json:"order_status"`
	Currency             string        `json:"currency"`
	CreateTime           json.Number   `json:"create_time"`
	UpdateTime           json.Number   `json:"update_time"`
	TotalAmount          json.Number   `json:"total_amount"`
	EstimatedShippingFee json.Number   `json:"estimated_shipping_fee"`
	BuyerUserID          json.Number   `json:"buyer_user_id"`
	BuyerUsername        string        `json:"buyer_username"`
	ShippingCarrier      string        `json:"shipping_carrier"`
	RecipientAddress     *addressWire  `json:"recipient_address"`
	ItemList             []itemWire    `json:"item_list"`
	PackageList          []packageWire `json:"package_list"`
}

type addressWire struct {
	Name        string `json:"name"`
	Phone       string `json:"phone"`
	FullAddress string `json:"full_address"`
	City        string `json:"city"`
	State       string `json:"state"`
	Zipcode     string `json:"zipcode"`
	Region      string `json:"region"`
}

type itemWire struct {
	ItemID                 json.Number `json:"item_id"`
	ItemName               string      `json:"item_name"`
	ItemSKU                string      `json:"item_sku"`
	ModelID                json.Number `json:"model_id"`
	ModelSKU               string      `json:"model_sku"`
	ModelQuantityPurchased json.Number `json:"model_quantity_purchased"`
	ModelOriginalPrice     json.Number `json:"model_original_price"`
	ModelDiscountedPrice   json.Number `json:"model_discounted_price"`
}

type packageWire struct {
	PackageNumber   string `json:"package_number"`
	LogisticsStatus string `json:"logistics_status"`
	ShippingCarrier string `json:"shipping_carrier"`
}

// decodeOrderDetail maps a get_order_detail answer onto order.Detail by
// order_sn, stamped fetchedAt. Items are keyed by model_sku (item_sku when
// the model has none); rows with the same SKU add up their quantities and
// keep the first row's prices. Shopee lists an unknown order_sn nowhere
// in order_list (its "warning" may name it): it is simply absent.
func decodeOrderDetail(body []byte, fetchedAt time.Time) (map[string]order.Detail, error) {
	resp, err := open(body)
	if err != nil {
		return nil, err
	}
	var w detailWire
	if err := json.Unmarshal(resp, &w); err != nil {
		return nil, malformed("%v", err)
	}
	if len(w.OrderList) > maxOrdersPerResponse {
		return nil, malformed("more than %d orders", maxOrdersPerResponse)
	}
	out := make(map[string]order.Detail, len(w.OrderList))
	for i := range w.OrderList {
		d, err := mapOrder(&w.OrderList[i], fetchedAt)
		if err != nil {
			return nil, err
		}
		out[w.OrderList[i].OrderSN] = d
	}
	return out, nil
}

func mapOrder(o *orderWire, fetchedAt time.Time) (order.Detail, error) {
	if err := checkID("order_sn", o.OrderSN, true); err != nil {
		return order.Detail{}, err
	}
	sn := o.OrderSN
	d := order.Detail{Status: o.OrderStatus, Currency: o.Currency, FetchedAt: fetchedAt, Buyer: order.Buyer{Username: o.BuyerUsername}}
	var err error
	if err = checkTexts(sn, o.OrderStatus, o.Currency, o.BuyerUsername, o.ShippingCarrier); err != nil {
		return order.Detail{}, err
	}
	if d.CreateTime, err = unixOf(sn, "create_time", o.CreateTime); err != nil {
		return order.Detail{}, err
	}
	if d.UpdateTime, err = unixOf(sn, "update_time", o.UpdateTime); err != nil {
		return order.Detail{}, err
	}
	if d.Total, err = amountOf(sn, "total_amount", o.TotalAmount); err != nil {
		return order.Detail{}, err
	}
	if d.ShippingFee, err = amountOf(sn, "estimated_shipping_fee", o.EstimatedShippingFee); err != nil {
		return order.Detail{}, err
	}
	if d.Buyer.ID, err = numericID(sn, "buyer_user_id", o.BuyerUserID); err != nil {
		return order.Detail{}, err
	}
	if a := o.RecipientAddress; a != nil {
		if err := checkTexts(sn, a.Name, a.Phone, a.FullAddress, a.City, a.State, a.Zipcode, a.Region); err != nil {
			return order.Detail{}, err
		}
		d.Address = &order.Address{Name: a.Name, Phone: a.Phone, Line: a.FullAddress, City: a.City,
			State: a.State, Postcode: a.Zipcode, Country: a.Region}
	}
	if d.Items, err = mapItems(sn, o.ItemList); err != nil {
		return order.Detail{}, err
	}
	if len(o.PackageList) > maxPackagesPerOrder {
		return order.Detail{}, malformed("order %s: more than %d packages", sn, maxPackagesPerOrder)
	}
	for _, p := range o.PackageList {
		if err := checkID("package_number", p.PackageNumber, false); err != nil {
			return order.Detail{}, err
		}
		if err := checkTexts(sn, p.LogisticsStatus, p.ShippingCarrier); err != nil {
			return order.Detail{}, err
		}
		if p.PackageNumber == "" {
			continue
		}
		carrier := p.ShippingCarrier
		if carrier == "" {
			carrier = o.ShippingCarrier
		}
		d.Packages = append(d.Packages, order.Package{ID: p.PackageNumber, Carrier: carrier, Status: p.LogisticsStatus})
	}
	return d, nil
}

func mapItems(sn string, rows []itemWire) ([]order.Item, error) {
	if len(rows) > maxItemsPerOrder {
		return nil, malformed("order %s: more than %d items", sn, maxItemsPerOrder)
	}
	var items []order.Item
	idx := map[string]int{}
	for _, r := range rows {
		if err := checkTexts(sn, r.ItemName, r.ItemSKU, r.ModelSKU); err != nil {
			return nil, err
		}
		itemID, err := numericID(sn, "item_id", r.ItemID)
		if err != nil {
			return nil, err
		}
		modelID, err := numericID(sn, "model_id", r.ModelID)
		if err != nil {
			return nil, err
		}
		qty, err := strconv.Atoi(r.ModelQuantityPurchased.String())
		if err != nil || qty < 0 || qty > 1_000_000 {
			return nil, malformed("order %s: model_quantity_purchased is not a count", sn)
		}
		unit, err := amountOf(sn, "model_original_price", r.ModelOriginalPrice)
		if err != nil {
			return nil, err
		}
		paid, err := amountOf(sn, "model_discounted_price", r.ModelDiscountedPrice)
		if err != nil {
			return nil, err
		}
		sku := r.ModelSKU
		if sku == "" {
			sku = r.ItemSKU
		}
		key := "sku:" + sku
		if sku == "" {
			key = "id:" + itemID + ":" + modelID
		}
		if i, ok := idx[key]; ok {
			items[i].Quantity += qty
			continue
		}
		idx[key] = len(items)
		items = append(items, order.Item{ItemID: itemID, SKU: sku, Name: r.ItemName, Quantity: qty, UnitPrice: unit, PaidPrice: paid})
	}
	return items, nil
}

// listWire is get_order_list's response.
type listWire struct {
	More       bool   `json:"more"`
	NextCursor string `json:"next_cursor"`
	OrderList  []struct {
		OrderSN     string `json:"order_sn"`
		OrderStatus string `json:"order_status"`
	} `json:"order_list"`
}

type listPage struct {
	orders []marketplace.OrderRef
	more   bool
	next   string
}

// decodeOrderList maps a get_order_list answer. more without a
// next_cursor is refused: following it would loop.
func decodeOrderList(body []byte) (listPage, error) {
	resp, err := open(body)
	if err != nil {
		return listPage{}, err
	}
	var w listWire
	if err := json.Unmarshal(resp, &w); err != nil {
		return listPage{}, malformed("%v", err)
	}
	if len(w.OrderList) > maxOrdersPerResponse {
		return listPage{}, malformed("more than %d orders", maxOrdersPerResponse)
	}
	if w.More && w.NextCursor == "" {
		return listPage{}, malformed("more is true but next_cursor is empty")
	}
	if len(w.NextCursor) > maxCursorLen-24 || !utf8.ValidString(w.NextCursor) {
		return listPage{}, malformed("next_cursor longer than %d bytes", maxCursorLen-24)
	}
	p := listPage{more: w.More, next: w.NextCursor, orders: make([]marketplace.OrderRef, 0, len(w.OrderList))}
	for _, o := range w.OrderList {
		if err := checkID("order_sn", o.OrderSN, true); err != nil {
			return listPage{}, err
		}
		if err := checkTexts(o.OrderSN, o.OrderStatus); err != nil {
			return listPage{}, err
		}
		p.orders = append(p.orders, marketplace.OrderRef{OrderID: o.OrderSN, Status: o.OrderStatus})
	}
	return p, nil
}

// packageDetailWire is get_package_detail's response.
type packageDetailWire struct {
	PackageList []struct {
		OrderSN         string `json:"order_sn"`
		PackageNumber   string `json:"package_number"`
		TrackingNumber  string `json:"tracking_number"`
		ShippingCarrier string `json:"shipping_carrier"`
	} `json:"package_list"`
}

// decodePackageDetail maps a get_package_detail answer by package_number
// (TrackingNo and Carrier set).
func decodePackageDetail(body []byte) (map[string]order.Package, error) {
	resp, err := open(body)
	if err != nil {
		return nil, err
	}
	var w packageDetailWire
	if err := json.Unmarshal(resp, &w); err != nil {
		return nil, malformed("%v", err)
	}
	if len(w.PackageList) > maxOrdersPerResponse {
		return nil, malformed("more than %d packages", maxOrdersPerResponse)
	}
	out := make(map[string]order.Package, len(w.PackageList))
	for _, p := range w.PackageList {
		if err := checkID("package_number", p.PackageNumber, true); err != nil {
			return nil, err
		}
		if err := checkTexts(p.PackageNumber, p.OrderSN, p.TrackingNumber, p.ShippingCarrier); err != nil {
			return nil, err
		}
		out[p.PackageNumber] = order.Package{ID: p.PackageNumber, TrackingNo: p.TrackingNumber, Carrier: p.ShippingCarrier}
	}
	return out, nil
}

// lostPushWire is get_lost_push_message's response. data is a JSON string
// holding the push's data object.
type lostPushWire struct {
	PushMessageList []struct {
		ShopID    json.Number `json:"shop_id"`
		Code      json.Number `json:"code"`
		Timestamp json.Number `json:"timestamp"`
		Data      string      `json:"data"`
	} `json:"push_message_list"`
	HasNextPage   bool        `json:"has_next_page"`
	LastMessageID json.Number `json:"last_message_id"`
}

// decodeLostPushes maps a get_lost_push_message answer.
func decodeLostPushes(body []byte) (LostPushPage, error) {
	resp, err := open(body)
	if err != nil {
		return LostPushPage{}, err
	}
	var w lostPushWire
	if err := json.Unmarshal(resp, &w); err != nil {
		return LostPushPage{}, malformed("%v", err)
	}
	if len(w.PushMessageList) > maxLostPushesPerPage {
		return LostPushPage{}, malformed("more than %d lost pushes", maxLostPushesPerPage)
	}
	page := LostPushPage{HasNextPage: w.HasNextPage}
	if w.LastMessageID != "" {
		if page.LastMessageID, err = strconv.ParseInt(w.LastMessageID.String(), 10, 64); err != nil || page.LastMessageID < 0 {
			return LostPushPage{}, malformed("last_message_id is not a message id")
		}
	}
	if len(w.PushMessageList) > 0 && page.LastMessageID == 0 {
		return LostPushPage{}, malformed("lost pushes without a last_message_id")
	}
	for _, m := range w.PushMessageList {
		shopID, err := numericID("lost push", "shop_id", m.ShopID)
		if err != nil {
			return LostPushPage{}, err
		}
		if shopID == "0" {
			shopID = ""
		}
		code, err := strconv.ParseInt(m.Code.String(), 10, 64)
		if err != nil || code < 0 {
			return LostPushPage{}, malformed("lost push: code is not a push code")
		}
		ts, err := unixOf("lost push", "timestamp", m.Timestamp)
		if err != nil {
			return LostPushPage{}, err
		}
		if len(m.Data) > maxLostPushDataLen {
			return LostPushPage{}, malformed("lost push: data longer than %d bytes", maxLostPushDataLen)
		}
		page.Pushes = append(page.Pushes, LostPush{ShopID: shopID, Code: code, Timestamp: ts, Data: []byte(m.Data)})
	}
	return page, nil
}

// amountOf reads an amount from its exact JSON text; absent is "".
func amountOf(sn, field string, n json.Number) (order.Amount, error) {
	if n == "" {
		return "", nil
	}
	a, err := order.ParseAmount(n.String())
	if err != nil {
		return "", malformed("order %s: %s is not a plain decimal: %q", sn, field, clip(n.String(), 32))
	}
	return a, nil
}

// unixOf reads Unix seconds; absent or 0 is the zero time.
func unixOf(sn, field string, n json.Number) (time.Time, error) {
	if n == "" {
		return time.Time{}, nil
	}
	s, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil || s < 0 || s > unixSecondsUpperBound {
		return time.Time{}, malformed("%s: %s is not a Unix time", sn, field)
	}
	if s == 0 {
		return time.Time{}, nil
	}
	return time.Unix(s, 0).UTC(), nil
}

// numericID reads an id that Shopee sends as a number (or numeric string);
// absent is "".
func numericID(sn, field string, n json.Number) (string, error) {
	s := n.String()
	if s == "" {
		return "", nil
	}
	if !isDigits(s) || len(s) > 20 {
		return "", malformed("%s: %s is not an id", sn, field)
	}
	return s, nil
}

// checkID bounds an id Shopee sends as a string.
func checkID(field, id string, required bool) error {
	switch {
	case id == "" && required:
		return malformed("%s missing", field)
	case len(id) > maxIDLen:
		return malformed("%s longer than %d bytes", field, maxIDLen)
	case strings.ContainsAny(id, ",\x00"):
		return malformed("%s has a comma or NUL", field)
	}
	return nil
}

// checkTexts bounds free text.
func checkTexts(sn string, texts ...string) error {
	for _, t := range texts {
		if len(t) > maxTextLen {
			return malformed("%s: a text field is longer than %d bytes", clip(sn, maxIDLen), maxTextLen)
		}
	}
	return nil
}

// clip cuts s to n bytes (at a rune boundary).
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// decodes reports whether body is JSON that decodes into v.
func decodes(body []byte, v any) bool { return json.Unmarshal(body, v) == nil }
