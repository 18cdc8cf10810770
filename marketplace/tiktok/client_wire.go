package tiktok

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/internal/pushwire"
	"github.com/orderlane/orderlane/order"
)

// This file holds the Open API's response shapes and their tolerant
// decoders: ids and times may come as strings or numbers, amounts as
// decimal strings (or, tolerated, JSON numbers, read from their exact text),
// and unknown fields are ignored.

// ErrBadResponse is wrapped by the errors of the response decoders: the
// marketplace answered success with a body that is not what the API
// documents.
var ErrBadResponse = errors.New("tiktok API: malformed response")

// Error codes the Open API and the auth host answer with (the common
// errors of API version 202309), as the client classifies them.
const (
	CodeOK            = 0
	CodeTokenInvalid  = 105001   // the access token is invalid
	CodeTokenExpired  = 105002   // the access token has expired
	CodeNoPermission  = 105005   // the app lacks the scope, or the shop did not authorise it
	CodeSignInvalid   = 106001   // the sign query parameter is invalid
	CodeNoShopCipher  = 106013   // shop_cipher is missing
	CodeRateLimited   = 36009002 // too many requests
	CodeInternal      = 36009003 // internal error, retry
	CodeInvalidParam  = 36009004 // invalid parameter, timestamp, app_key or credentials (see message)
	CodeAuthExpired   = 36004001 // auth host: the refresh token has expired
	CodeAuthNotFound  = 36004005 // auth host: no such authorisation (unknown code or refresh token)
	codeAuthHostFirst = 36004000
	codeAuthHostLast  = 36004999
)

// maxMessage bounds the marketplace's error text kept in an APIError.
const maxMessage = 512

// wireEnvelope is every answer's frame: {code, message, request_id, data}.
type wireEnvelope struct {
	Code      pushwire.FlexInt `json:"code"`
	Message   string           `json:"message"`
	RequestID string           `json:"request_id"`
	Data      pushwire.RawJSON `json:"data"`
}

// decodeEnvelope reads the frame of an answer. ok is false when body is
// not a JSON object with an integer code.
func decodeEnvelope(body []byte) (env wireEnvelope, ok bool) {
	if !isJSONObject(body) || json.Unmarshal(body, &env) != nil || !env.Code.Set || env.Code.Bad {
		return wireEnvelope{}, false
	}
	return env, true
}

// classify maps an error code (and, when the code does not say, the HTTP
// status) onto the marketplace error kinds.
func classify(status int, code int64, message string) error {
	switch {
	case code == CodeRateLimited:
		return marketplace.ErrRateLimited
	case code == CodeInternal:
		return marketplace.ErrTemporary
	case code >= 105000 && code <= 105999, code >= codeAuthHostFirst && code <= codeAuthHostLast:
		return marketplace.ErrAuth
	case code == CodeInvalidParam:
		// The overloaded 36009004 names the culprit in its message.
		m := strings.ToLower(message)
		if strings.Contains(m, "access-token") || strings.Contains(m, "access_token") {
			return marketplace.ErrAuth
		}
		return nil
	case code == CodeSignInvalid || code == CodeNoShopCipher:
		// A wrong app secret or a missing shop: neither a retry nor a
		// refresh helps, whatever the HTTP status (401 for a bad sign).
		return nil
	}
	return statusKind(status)
}

// statusKind is apiwire.StatusKind, repeated here to keep the decoders
// free of the transport package.
func statusKind(status int) error {
	switch {
	case status == 429:
		return marketplace.ErrRateLimited
	case status >= 500:
		return marketplace.ErrTemporary
	case status == 401 || status == 403:
		return marketplace.ErrAuth
	}
	return nil
}

// checkAnswer turns an answer into nil (HTTP 2xx and code 0) or an
// *marketplace.APIError with its Kind set. A 2xx answer that is not the
// envelope is ErrBadResponse.
func checkAnswer(status int, body []byte) (wireEnvelope, error) {
	env, ok := decodeEnvelope(body)
	if !ok {
		if status >= 200 && status < 300 {
			return env, fmt.Errorf("%w: not a JSON envelope with a code", ErrBadResponse)
		}
		return env, &marketplace.APIError{Platform: order.TikTok, Status: status,
			Message: statusText(status), Kind: statusKind(status)}
	}
	if env.Code.Value == CodeOK && status >= 200 && status < 300 {
		return env, nil
	}
	msg := clip(env.Message)
	return env, &marketplace.APIError{Platform: order.TikTok, Status: status,
		Code: strconv.FormatInt(env.Code.Value, 10), Message: msg, RequestID: clip(env.RequestID),
		Kind: classify(status, env.Code.Value, msg)}
}

func statusText(status int) string {
	return "HTTP " + strconv.Itoa(status) + " without the API's error envelope"
}

// clip bounds a text from the marketplace and drops its control characters.
func clip(s string) string {
	if len(s) > maxMessage {
		s = s[:maxMessage]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// wireToken is the data of /api/v2/token/get and /api/v2/token/refresh.
// The two expire_in fields are Unix times in seconds, not durations.
type wireToken struct {
	AccessToken          string            `json:"access_token"`
	AccessTokenExpireIn  pushwire.UnixTime `json:"access_token_expire_in"`
	RefreshToken         string            `json:"refresh_token"`
	RefreshTokenExpireIn pushwire.UnixTime `json:"refresh_token_expire_in"`
	OpenID               string            `json:"open_id"`
	SellerName           string            `json:"seller_name"`
	SellerBaseRegion     string            `json:"seller_base_region"`
}

// maxTokenLen bounds a token the marketplace issues.
const maxTokenLen = 2048

// decodeToken reads the data of a token answer.
func decodeToken(data []byte) (marketplace.Token, error) {
	var w wireToken
	if err := decodeData(data, &w); err != nil {
		return marketplace.Token{}, err
	}
	switch {
	case w.AccessToken == "" || w.RefreshToken == "":
		return marketplace.Token{}, fmt.Errorf("%w: access_token or refresh_token missing", ErrBadResponse)
	case !tokenText(w.AccessToken) || !tokenText(w.RefreshToken):
		return marketplace.Token{}, fmt.Errorf("%w: a token is over %d bytes or not printable ASCII", ErrBadResponse, maxTokenLen)
	case w.AccessTokenExpireIn.Bad || w.AccessTokenExpireIn.Value == 0 || w.RefreshTokenExpireIn.Bad:
		return marketplace.Token{}, fmt.Errorf("%w: access_token_expire_in or refresh_token_expire_in is not a Unix time", ErrBadResponse)
	}
	return marketplace.Token{AccessToken: w.AccessToken, RefreshToken: w.RefreshToken,
		AccessExpiresAt: w.AccessTokenExpireIn.Time(), RefreshExpiresAt: w.RefreshTokenExpireIn.Time()}, nil
}

// tokenText reports whether a token can travel in a header and a query.
func tokenText(s string) bool {
	if len(s) > maxTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// wireShop is one shop of /authorization/202309/shops.
type wireShop struct {
	ID         pushwire.FlexID `json:"id"`
	Name       string          `json:"name"`
	Region     string          `json:"region"`
	SellerType string          `json:"seller_type"`
	Cipher     string          `json:"cipher"`
	Code       string          `json:"code"`
}

// authorizedShop is a shop the token may act for.
type authorizedShop struct {
	ID, Cipher, Region string
}

// decodeShops reads the data of /authorization/202309/shops.
func decodeShops(data []byte) ([]authorizedShop, error) {
	var w struct {
		Shops []wireShop `json:"shops"`
	}
	if err := decodeData(data, &w); err != nil {
		return nil, err
	}
	out := make([]authorizedShop, 0, len(w.Shops))
	for _, s := range w.Shops {
		id, err := pushwire.ID("shops.id", s.ID)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
		}
		if err := pushwire.CheckText("shops.cipher", s.Cipher, false); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
		}
		out = append(out, authorizedShop{ID: id, Cipher: s.Cipher, Region: clipField(s.Region)})
	}
	return out, nil
}

// wireAmount is a decimal amount as its exact JSON text: a string
// ("12.50"), or, tolerated, a JSON number read from its literal digits. It
// never goes through float64.
type wireAmount struct {
	Text string
	Bad  bool
}

// UnmarshalJSON implements json.Unmarshaler; a wrong type sets Bad.
func (a *wireAmount) UnmarshalJSON(b []byte) error {
	*a = wireAmount{}
	switch {
	case len(b) == 0 || b[0] == 'n':
	case b[0] == '"':
		var s string
		if json.Unmarshal(b, &s) != nil {
			a.Bad = true
			return nil //nolint:nilerr // a bad amount is reported through a.Bad, naming its field
		}
		a.Text = s
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		a.Text = string(b)
	default:
		a.Bad = true
	}
	return nil
}

// amount parses a wire amount; "" stays absent.
func amount(field string, a wireAmount) (order.Amount, error) {
	if a.Bad {
		return "", fmt.Errorf("%w: %s is not a decimal amount", ErrBadResponse, field)
	}
	if a.Text == "" {
		return "", nil
	}
	v, err := order.ParseAmount(a.Text)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrBadResponse, field, err)
	}
	return v, nil
}

// wireOrder is one order of Get Order Detail and of Search Orders (API
// 202309). Only the fields orderlane reads are listed.
type wireOrder struct {
	ID               pushwire.FlexID   `json:"id"`
	Status           string            `json:"status"`
	CreateTime       pushwire.UnixTime `json:"create_time"`
	UpdateTime       pushwire.UnixTime `json:"update_time"`
	Payment          *wirePayment      `json:"payment"`
	RecipientAddress *wireAddress      `json:"recipient_address"`
	LineItems        []wireLineItem    `json:"line_items"`
	Packages         []wirePackage     `json:"packages"`
	BuyerEmail       string            `json:"buyer_email"`
	UserID           pushwire.FlexID   `json:"user_id"`
	TrackingNumber   string            `json:"tracking_number"`
	ShippingProvider string            `json:"shipping_provider"`
}

type wirePayment struct {
	Currency    string     `json:"currency"`
	TotalAmount wireAmount `json:"total_amount"`
	ShippingFee wireAmount `json:"shipping_fee"`
	SubTotal    wireAmount `json:"sub_total"`
}

type wireAddress struct {
	Name          string         `json:"name"`
	PhoneNumber   string         `json:"phone_number"`
	FullAddress   string         `json:"full_address"`
	AddressDetail string         `json:"address_detail"`
	AddressLine1  string         `json:"address_line1"`
	AddressLine2  string         `json:"address_line2"`
	AddressLine3  string         `json:"address_line3"`
	AddressLine4  string         `json:"address_line4"`
	PostalCode    string         `json:"postal_code"`
	RegionCode    string         `json:"region_code"`
	DistrictInfo  []wireDistrict `json:"district_info"`
}

// wireDistrict is one administrative level of an address: address_level
// L0 is the country, L1 the state or province, L2 and deeper county and
// city (address_level_name says which).
type wireDistrict struct {
	AddressLevel     string `json:"address_level"`
	AddressLevelName string `json:"address_level_name"`
	AddressName      string `json:"address_name"`
}

// wireLineItem is one UNIT of the order: TikTok lists a SKU bought three
// times as three line items.
type wireLineItem struct {
	ID                   pushwire.FlexID `json:"id"`
	ProductID            pushwire.FlexID `json:"product_id"`
	SkuID                pushwire.FlexID `json:"sku_id"`
	SellerSku            string          `json:"seller_sku"`
	ProductName          string          `json:"product_name"`
	SkuName              string          `json:"sku_name"`
	OriginalPrice        wireAmount      `json:"original_price"`
	SalePrice            wireAmount      `json:"sale_price"`
	Currency             string          `json:"currency"`
	PackageID            pushwire.FlexID `json:"package_id"`
	PackageStatus        string          `json:"package_status"`
	TrackingNumber       string          `json:"tracking_number"`
	ShippingProviderName string          `json:"shipping_provider_name"`
	DisplayStatus        string          `json:"display_status"`
}

type wirePackage struct {
	ID pushwire.FlexID `json:"id"`
}

// Limits on what one order may hold, so that a hostile or broken answer
// cannot make the decoder build huge structures.
const (
	maxLineItems = 10000
	maxPackages  = 1000
	maxField     = 1024
)

// clipField bounds a free text field of an order.
func clipField(s string) string {
	if len(s) > maxField {
		s = s[:maxField]
	}
	return strings.ToValidUTF8(s, "?")
}

// decodeDetails reads the data of Get Order Detail: data.orders[].
func decodeDetails(data []byte, fetchedAt time.Time) ([]order.Detail, []string, error) {
	var w struct {
		Orders []wireOrder `json:"orders"`
	}
	if err := decodeData(data, &w); err != nil {
		return nil, nil, err
	}
	details := make([]order.Detail, 0, len(w.Orders))
	ids := make([]string, 0, len(w.Orders))
	for i := range w.Orders {
		id, d, err := toDetail(&w.Orders[i], fetchedAt)
		if err != nil {
			return nil, nil, err
		}
		details = append(details, d)
		ids = append(ids, id)
	}
	return details, ids, nil
}

// wirePage is the data of Search Orders.
type wirePage struct {
	Orders        []wireOrder `json:"orders"`
	NextPageToken string      `json:"next_page_token"`
	TotalCount    int64       `json:"total_count"`
}

// maxCursor bounds a page token.
const maxCursor = 4096

// decodePage reads the data of Search Orders.
func decodePage(data []byte) (marketplace.ListPage, error) {
	var w wirePage
	if err := decodeData(data, &w); err != nil {
		return marketplace.ListPage{}, err
	}
	if len(w.NextPageToken) > maxCursor || !tokenText(w.NextPageToken) {
		return marketplace.ListPage{}, fmt.Errorf("%w: next_page_token is over %d bytes or not printable ASCII", ErrBadResponse, maxCursor)
	}
	page := marketplace.ListPage{Orders: make([]marketplace.OrderRef, 0, len(w.Orders)), Cursor: w.NextPageToken}
	for i := range w.Orders {
		o := &w.Orders[i]
		id, err := orderID(o)
		if err != nil {
			return marketplace.ListPage{}, err
		}
		if err := pushwire.CheckText("orders.status", o.Status, false); err != nil {
			return marketplace.ListPage{}, fmt.Errorf("%w: %w", ErrBadResponse, err)
		}
		ut, err := pushwire.TimeOf("orders.update_time", o.UpdateTime)
		if err != nil {
			return marketplace.ListPage{}, fmt.Errorf("%w: %w", ErrBadResponse, err)
		}
		page.Orders = append(page.Orders, marketplace.OrderRef{OrderID: id, Status: o.Status, UpdateTime: ut})
	}
	return page, nil
}

func orderID(o *wireOrder) (string, error) {
	id, err := pushwire.ID("orders.id", o.ID)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if id == "" {
		return "", fmt.Errorf("%w: orders.id missing", ErrBadResponse)
	}
	return id, nil
}

// toDetail maps one order onto order.Detail: the per-unit line items are
// aggregated by SKU (first appearance order; the first unit's prices stand
// for the SKU), amounts are exact decimals, the address is nil while the
// marketplace withholds it.
func toDetail(o *wireOrder, fetchedAt time.Time) (string, order.Detail, error) {
	id, err := orderID(o)
	if err != nil {
		return "", order.Detail{}, err
	}
	if len(o.LineItems) > maxLineItems || len(o.Packages) > maxPackages {
		return "", order.Detail{}, fmt.Errorf("%w: order %s has over %d line items or %d packages", ErrBadResponse, id, maxLineItems, maxPackages)
	}
	if err := pushwire.CheckText("orders.status", o.Status, false); err != nil {
		return "", order.Detail{}, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	d := order.Detail{Status: o.Status, FetchedAt: fetchedAt}
	if d.UpdateTime, err = pushwire.TimeOf("orders.update_time", o.UpdateTime); err != nil {
		return "", order.Detail{}, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if d.CreateTime, err = pushwire.TimeOf("orders.create_time", o.CreateTime); err != nil {
		return "", order.Detail{}, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if p := o.Payment; p != nil {
		d.Currency = clipField(p.Currency)
		if d.Total, err = amount("payment.total_amount", p.TotalAmount); err != nil {
			return "", order.Detail{}, err
		}
		if d.ShippingFee, err = amount("payment.shipping_fee", p.ShippingFee); err != nil {
			return "", order.Detail{}, err
		}
	}
	if d.Items, err = items(o.LineItems); err != nil {
		return "", order.Detail{}, err
	}
	if d.Currency == "" && len(o.LineItems) > 0 {
		d.Currency = clipField(o.LineItems[0].Currency)
	}
	userID, err := pushwire.ID("orders.user_id", o.UserID)
	if err != nil {
		return "", order.Detail{}, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	d.Buyer = order.Buyer{ID: userID, Username: clipField(o.BuyerEmail)}
	if o.RecipientAddress != nil {
		d.Address = address(o.RecipientAddress)
	}
	if d.Packages, err = packages(o); err != nil {
		return "", order.Detail{}, err
	}
	return id, d, nil
}

// items aggregates per-unit line items by SKU: the sku_id, or the
// seller_sku where a line has no sku_id.
func items(lines []wireLineItem) ([]order.Item, error) {
	var out []order.Item
	idx := map[string]int{}
	for i := range lines {
		l := &lines[i]
		skuID, err := pushwire.ID("line_items.sku_id", l.SkuID)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
		}
		productID, err := pushwire.ID("line_items.product_id", l.ProductID)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
		}
		key := "id:" + skuID
		if skuID == "" {
			key = "seller:" + l.SellerSku
		}
		if j, ok := idx[key]; ok {
			out[j].Quantity++
			continue
		}
		sku := clipField(l.SellerSku)
		if sku == "" {
			sku = skuID
		}
		it := order.Item{ItemID: productID, SKU: sku, Name: clipField(l.ProductName), Quantity: 1}
		if it.UnitPrice, err = amount("line_items.original_price", l.OriginalPrice); err != nil {
			return nil, err
		}
		if it.PaidPrice, err = amount("line_items.sale_price", l.SalePrice); err != nil {
			return nil, err
		}
		idx[key] = len(out)
		out = append(out, it)
	}
	return out, nil
}

// address maps recipient_address. The street line is address_detail, else
// the address lines joined, else full_address; state and city come from
// district_info.
func address(a *wireAddress) *order.Address {
	line := a.AddressDetail
	if line == "" {
		var parts []string
		for _, l := range []string{a.AddressLine1, a.AddressLine2, a.AddressLine3, a.AddressLine4} {
			if l != "" {
				parts = append(parts, l)
			}
		}
		line = strings.Join(parts, ", ")
	}
	if line == "" {
		line = a.FullAddress
	}
	out := &order.Address{Name: clipField(a.Name), Phone: clipField(a.PhoneNumber), Line: clipField(line),
		Postcode: clipField(a.PostalCode), Country: clipField(a.RegionCode)}
	var deepest string
	for _, di := range a.DistrictInfo {
		switch {
		case strings.EqualFold(di.AddressLevel, "L1"):
			out.State = clipField(di.AddressName)
		case strings.EqualFold(di.AddressLevelName, "city"):
			out.City = clipField(di.AddressName)
		case di.AddressLevel != "" && !strings.EqualFold(di.AddressLevel, "L0"):
			deepest = di.AddressName
		}
	}
	if out.City == "" {
		out.City = clipField(deepest)
	}
	return out
}

// packages lists the order's packages, taking each one's tracking number,
// carrier and status from its first line item; a lone package falls back
// on the order's tracking_number and shipping_provider.
func packages(o *wireOrder) ([]order.Package, error) {
	var out []order.Package
	idx := map[string]int{}
	for _, p := range o.Packages {
		id, err := pushwire.ID("packages.id", p.ID)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
		}
		if _, dup := idx[id]; dup || id == "" {
			continue
		}
		idx[id] = len(out)
		out = append(out, order.Package{ID: id})
	}
	for i := range o.LineItems {
		l := &o.LineItems[i]
		id, err := pushwire.ID("line_items.package_id", l.PackageID)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
		}
		j, ok := idx[id]
		if !ok || out[j].TrackingNo != "" || l.TrackingNumber == "" {
			continue
		}
		out[j].TrackingNo = clipField(l.TrackingNumber)
		out[j].Carrier = clipField(l.ShippingProviderName)
		out[j].Status = clipField(l.PackageStatus)
	}
	if len(out) == 1 && out[0].TrackingNo == "" {
		out[0].TrackingNo = clipField(o.TrackingNumber)
		out[0].Carrier = clipField(o.ShippingProvider)
	}
	return out, nil
}

// decodeData decodes the data member of a successful answer into v.
func decodeData(data []byte, v any) error {
	if !isJSONObject(data) {
		return fmt.Errorf("%w: data is not a JSON object", ErrBadResponse)
	}
	if err := json.Unmarshal(data, v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return fmt.Errorf("%w: data.%s has the wrong type", ErrBadResponse, typ.Field)
		}
		return fmt.Errorf("%w: invalid JSON", ErrBadResponse)
	}
	return nil
}
