package tiktoksim

import (
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
)

// The order shape of Get Order Detail and Search Orders (API 202309), as
// the sim renders it: ids and amounts are strings, times Unix seconds, one
// line item per unit, no recipient_address while UNPAID or ON_HOLD.

type wireOrder struct {
	ID               string        `json:"id"`
	Status           string        `json:"status"`
	CreateTime       int64         `json:"create_time"`
	UpdateTime       int64         `json:"update_time"`
	IsOnHoldOrder    bool          `json:"is_on_hold_order"`
	Payment          wirePayment   `json:"payment"`
	RecipientAddress *wireAddress  `json:"recipient_address,omitempty"`
	LineItems        []wireLine    `json:"line_items"`
	Packages         []wirePackage `json:"packages"`
	BuyerEmail       string        `json:"buyer_email,omitempty"`
	UserID           string        `json:"user_id"`
	TrackingNumber   string        `json:"tracking_number,omitempty"`
	ShippingProvider string        `json:"shipping_provider,omitempty"`
	ShippingType     string        `json:"shipping_type"`
	FulfillmentType  string        `json:"fulfillment_type"`
	OrderType        string        `json:"order_type"`
	CommercePlatform string        `json:"commerce_platform"`
}

type wirePayment struct {
	Currency                  string `json:"currency"`
	TotalAmount               string `json:"total_amount"`
	SubTotal                  string `json:"sub_total"`
	ShippingFee               string `json:"shipping_fee"`
	OriginalTotalProductPrice string `json:"original_total_product_price"`
	SellerDiscount            string `json:"seller_discount"`
	PlatformDiscount          string `json:"platform_discount"`
	Tax                       string `json:"tax"`
}

type wireAddress struct {
	Name          string         `json:"name"`
	PhoneNumber   string         `json:"phone_number"`
	FullAddress   string         `json:"full_address"`
	AddressDetail string         `json:"address_detail"`
	AddressLine1  string         `json:"address_line1"`
	PostalCode    string         `json:"postal_code"`
	RegionCode    string         `json:"region_code"`
	DistrictInfo  []wireDistrict `json:"district_info"`
}

type wireDistrict struct {
	AddressLevel     string `json:"address_level"`
	AddressLevelName string `json:"address_level_name"`
	AddressName      string `json:"address_name"`
}

type wireLine struct {
	ID                   string `json:"id"`
	ProductID            string `json:"product_id"`
	SkuID                string `json:"sku_id"`
	SellerSku            string `json:"seller_sku"`
	ProductName          string `json:"product_name"`
	SkuName              string `json:"sku_name"`
	OriginalPrice        string `json:"original_price"`
	SalePrice            string `json:"sale_price"`
	SellerDiscount       string `json:"seller_discount"`
	PlatformDiscount     string `json:"platform_discount"`
	Currency             string `json:"currency"`
	DisplayStatus        string `json:"display_status"`
	PackageID            string `json:"package_id,omitempty"`
	PackageStatus        string `json:"package_status,omitempty"`
	TrackingNumber       string `json:"tracking_number,omitempty"`
	ShippingProviderName string `json:"shipping_provider_name,omitempty"`
}

type wirePackage struct {
	ID string `json:"id"`
}

// APIStatus is the order status in the API's vocabulary: the webhooks'
// CANCEL is the API's CANCELLED.
func APIStatus(raw string) string {
	if strings.EqualFold(raw, "CANCEL") {
		return "CANCELLED"
	}
	return strings.ToUpper(raw)
}

// WebhookStatus is the order status in the webhooks' vocabulary: the API's
// CANCELLED is the webhooks' CANCEL.
func WebhookStatus(raw string) string {
	if strings.EqualFold(raw, "CANCELLED") {
		return "CANCEL"
	}
	return strings.ToUpper(raw)
}

// addressWithheld reports whether the API withholds the address in this
// status.
func addressWithheld(apiStatus string) bool {
	return apiStatus == "UNPAID" || apiStatus == "ON_HOLD"
}

// render draws an order as the API returns it.
func render(o *sandbox.Order) wireOrder {
	status := APIStatus(o.Status)
	cur := o.Currency
	w := wireOrder{
		ID: o.OrderID, Status: status, CreateTime: o.CreateTime.Unix(), UpdateTime: o.UpdateTime.Unix(),
		IsOnHoldOrder: status == "ON_HOLD", UserID: o.Buyer.ID, BuyerEmail: o.Buyer.Username,
		ShippingType: "TIKTOK", FulfillmentType: "FULFILLMENT_BY_SELLER", OrderType: "NORMAL",
		CommercePlatform: "TIKTOK_SHOP", LineItems: make([]wireLine, 0, len(o.Units)),
		Packages: make([]wirePackage, 0, len(o.Packages)),
	}
	var sub, orig order.Amount = "0", "0"
	for i, u := range o.Units {
		sub, orig = sub.Add(u.PaidPrice), orig.Add(u.UnitPrice)
		l := wireLine{
			ID: u.LineID, ProductID: u.ItemID, SkuID: skuID(u.ItemID, u.SKU), SellerSku: u.SKU,
			ProductName: u.Name, OriginalPrice: money(u.UnitPrice, cur), SalePrice: money(u.PaidPrice, cur),
			SellerDiscount: money(u.UnitPrice.Add(neg(u.PaidPrice)), cur), PlatformDiscount: money("0", cur),
			Currency: cur, DisplayStatus: status,
		}
		if u.Status != "" {
			l.DisplayStatus = APIStatus(u.Status)
		}
		if n := len(o.Packages); n > 0 {
			p := o.Packages[i%n] // units spread over the packages
			l.PackageID, l.PackageStatus = p.ID, p.Status
			l.TrackingNumber, l.ShippingProviderName = p.TrackingNo, p.Carrier
		}
		w.LineItems = append(w.LineItems, l)
	}
	for _, p := range o.Packages {
		w.Packages = append(w.Packages, wirePackage{ID: p.ID})
	}
	if len(o.Packages) > 0 {
		w.TrackingNumber, w.ShippingProvider = o.Packages[0].TrackingNo, o.Packages[0].Carrier
	}
	ship := o.ShippingFee
	if ship == "" {
		ship = "0"
	}
	w.Payment = wirePayment{Currency: cur, TotalAmount: money(o.Total(), cur), SubTotal: money(sub, cur),
		ShippingFee: money(ship, cur), OriginalTotalProductPrice: money(orig, cur),
		SellerDiscount: money(orig.Add(neg(sub)), cur), PlatformDiscount: money("0", cur), Tax: money("0", cur)}
	if !addressWithheld(status) {
		w.RecipientAddress = renderAddress(o.Address)
	}
	return w
}

func renderAddress(a order.Address) *wireAddress {
	var parts []string
	for _, p := range []string{a.Line, a.City, a.State, a.Postcode, a.Country} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	w := &wireAddress{Name: a.Name, PhoneNumber: a.Phone, FullAddress: strings.Join(parts, ", "),
		AddressDetail: a.Line, AddressLine1: a.Line, PostalCode: a.Postcode, RegionCode: a.Country,
		DistrictInfo: []wireDistrict{}}
	for _, d := range []wireDistrict{
		{"L0", "Country", a.Country}, {"L1", "State", a.State}, {"L3", "City", a.City},
	} {
		if d.AddressName != "" {
			w.DistrictInfo = append(w.DistrictInfo, d)
		}
	}
	return w
}

// skuID is TikTok's numeric sku_id for a product's seller SKU: stable, so
// that the units of one SKU share it.
func skuID(itemID, sku string) string {
	h := fnv.New64a()
	h.Write([]byte(itemID))
	h.Write([]byte{0})
	h.Write([]byte(sku))
	return strconv.FormatUint(h.Sum64()>>1, 10)
}

func neg(a order.Amount) order.Amount { return a.Mul(-1) }

// zeroDecimal lists currencies TikTok prices without decimals.
var zeroDecimal = map[string]bool{"IDR": true, "JPY": true, "KRW": true, "VND": true}

// money writes an amount as TikTok does: a decimal string with at least
// two fractional digits ("12.50"), or none for zero-decimal currencies.
func money(a order.Amount, currency string) string {
	s := string(a)
	if s == "" {
		s = "0"
	}
	if zeroDecimal[currency] {
		return s
	}
	i, f, _ := strings.Cut(s, ".")
	for len(f) < 2 {
		f += "0"
	}
	return i + "." + f
}

func encodePageToken(t pageToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(s string, t *pageToken) bool {
	if len(s) > 512 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && json.Unmarshal(b, t) == nil
}
