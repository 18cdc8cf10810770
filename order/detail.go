package order

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Detail is what a marketplace's order API adds to the push data: items,
// amounts, buyer, shipping address and packages. The enrichment step fills
// it from the marketplace API; without API credentials it stays nil and the
// order runs on push data alone.
type Detail struct {
	// Status is the marketplace's raw order status as the API reported it,
	// and UpdateTime the API's update time of the order.
	Status     string    `json:"status"`
	UpdateTime time.Time `json:"update_time,omitzero"`
	// CreateTime is when the buyer placed the order.
	CreateTime time.Time `json:"create_time,omitzero"`
	// Currency is the ISO 4217 code of every amount of the order.
	Currency string `json:"currency"`
	// Total is what the buyer pays for the order, shipping included.
	Total Amount `json:"total"`
	// ShippingFee is the shipping the buyer pays.
	ShippingFee Amount `json:"shipping_fee,omitempty"`
	// Items are the order lines, one per SKU: per-unit lines the
	// marketplace returns (Lazada, TikTok) are aggregated into quantities.
	Items []Item `json:"items"`
	// Buyer identifies the buyer as far as the marketplace discloses.
	Buyer Buyer `json:"buyer"`
	// Address is the shipping address; nil while the marketplace withholds
	// it (TikTok while UNPAID or ON_HOLD).
	Address *Address `json:"address,omitempty"`
	// Packages are the parcels with their tracking numbers.
	Packages []Package `json:"packages,omitempty"`
	// FetchedAt is when orderlane read the detail from the API.
	FetchedAt time.Time `json:"fetched_at"`
}

// Item is one order line: a SKU and how many units of it.
type Item struct {
	// ItemID is the marketplace's product id, SKU the seller's SKU.
	ItemID   string `json:"item_id,omitempty"`
	SKU      string `json:"sku"`
	Name     string `json:"name"`
	Quantity int    `json:"quantity"`
	// UnitPrice is the listed price of one unit; PaidPrice what the buyer
	// paid for one unit after discounts.
	UnitPrice Amount `json:"unit_price"`
	PaidPrice Amount `json:"paid_price"`
	// Status is the line's own raw status where the marketplace keeps one
	// per line (Lazada), else "".
	Status string `json:"status,omitempty"`
}

// Buyer is the buyer as the marketplace discloses it (often masked).
type Buyer struct {
	ID       string `json:"id,omitempty"`
	Username string `json:"username,omitempty"`
}

// Address is a shipping address (often partly masked by the marketplace).
type Address struct {
	Name     string `json:"name"`
	Phone    string `json:"phone,omitempty"`
	Line     string `json:"line"`
	City     string `json:"city,omitempty"`
	State    string `json:"state,omitempty"`
	Postcode string `json:"postcode,omitempty"`
	Country  string `json:"country"`
}

// Package is one parcel of the order.
type Package struct {
	ID         string `json:"id,omitempty"`
	TrackingNo string `json:"tracking_no,omitempty"`
	Carrier    string `json:"carrier,omitempty"`
	Status     string `json:"status,omitempty"`
}

// Amount is an exact decimal amount in the order's currency, kept as its
// canonical decimal text ("12.5", "0", "-3.25"): never a float. The zero
// value "" means absent.
type Amount string

// ErrBadAmount is wrapped by ParseAmount's errors.
var ErrBadAmount = errors.New("bad amount")

// ParseAmount reads a decimal number ("12.50", "1e2" is refused, "12" ok,
// " 3.0 " refused) and returns it in canonical form: no leading zeros, no
// trailing fractional zeros, no "+", "-0" as "0".
func ParseAmount(s string) (Amount, error) {
	if s == "" || len(s) > 64 {
		return "", fmt.Errorf("%w: %q", ErrBadAmount, s)
	}
	body := strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(body, ".")
	if intPart == "" || (hasDot && frac == "") || !digits(intPart) || !digits(frac) {
		return "", fmt.Errorf("%w: %q", ErrBadAmount, s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrBadAmount, s)
	}
	return amountOf(r, len(frac)), nil
}

// MustAmount is ParseAmount for constants in tests and generators.
func MustAmount(s string) Amount {
	a, err := ParseAmount(s)
	if err != nil {
		panic(err)
	}
	return a
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Rat returns the amount as an exact rational (0 for "").
func (a Amount) Rat() *big.Rat {
	r := new(big.Rat)
	if a != "" {
		r.SetString(string(a))
	}
	return r
}

// Add returns a + b exactly.
func (a Amount) Add(b Amount) Amount {
	return amountOf(new(big.Rat).Add(a.Rat(), b.Rat()), max(fracLen(a), fracLen(b)))
}

// Mul returns a * n exactly.
func (a Amount) Mul(n int) Amount {
	return amountOf(new(big.Rat).Mul(a.Rat(), new(big.Rat).SetInt64(int64(n))), fracLen(a))
}

// Cmp compares a and b as numbers.
func (a Amount) Cmp(b Amount) int { return a.Rat().Cmp(b.Rat()) }

func fracLen(a Amount) int {
	if _, f, ok := strings.Cut(string(a), "."); ok {
		return len(f)
	}
	return 0
}

// amountOf formats r (a decimal with at most prec fractional digits) in
// canonical form.
func amountOf(r *big.Rat, prec int) Amount {
	s := r.FloatString(prec)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return Amount(s)
}
