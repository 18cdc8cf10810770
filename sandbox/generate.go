package sandbox

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/order"
)

// Spec says what sale Generate makes. Zero fields take their defaults; a
// negative ratio means none.
type Spec struct {
	// Orders is how many orders, spread round-robin over Platforms.
	// Defaults to 30, at most MaxOrders.
	Orders int
	// Platforms are the marketplaces of the sale. Defaults to all three.
	Platforms []order.Platform
	// ShopsPerPlatform is how many shops each marketplace has. Defaults to
	// 2, at most MaxShops.
	ShopsPerPlatform int
	// Start is when the first order may be placed (truncated to the
	// second). Defaults to the sale's Now.
	Start time.Time
	// Span is the time over which orders are placed. Defaults to 1h.
	Span time.Duration
	// MinGap and MaxGap bound the time between two changes of an order
	// (whole seconds, at least 1s). Default to 1m and 30m.
	MinGap, MaxGap time.Duration
	// CancelRatio is the share of orders cancelled (Lazada: also one line
	// of a multi-unit order). Defaults to 0.15.
	CancelRatio float64
	// ReturnRatio is the share of delivered orders the buyer returns
	// (Lazada and TikTok reverse orders). Defaults to 0.1.
	ReturnRatio float64
	// LagRatio is the share of orders the API does not return yet when
	// their first push goes out (VisibleAt 20s to 3m after creation).
	// Defaults to 0.1.
	LagRatio float64
}

// Limits on a Spec.
const (
	MaxOrders = 100_000
	MaxShops  = 100
)

func (s Spec) withDefaults(now time.Time) Spec {
	ratio := func(r *float64, def float64) {
		switch {
		case *r == 0:
			*r = def
		case *r < 0 || *r != *r:
			*r = 0
		case *r > 1:
			*r = 1
		}
	}
	if s.Orders <= 0 {
		s.Orders = 30
	}
	s.Orders = min(s.Orders, MaxOrders)
	if len(s.Platforms) == 0 {
		s.Platforms = order.Platforms
	}
	s.Platforms = slices.DeleteFunc(slices.Clone(s.Platforms), func(p order.Platform) bool { return !p.Valid() })
	if len(s.Platforms) == 0 {
		s.Platforms = order.Platforms
	}
	if s.ShopsPerPlatform <= 0 {
		s.ShopsPerPlatform = 2
	}
	s.ShopsPerPlatform = min(s.ShopsPerPlatform, MaxShops)
	if s.Start.IsZero() {
		s.Start = now
	}
	s.Start = s.Start.Truncate(time.Second)
	if s.Span <= 0 {
		s.Span = time.Hour
	}
	if s.MinGap < time.Second {
		s.MinGap = time.Minute
	}
	if s.MaxGap < s.MinGap {
		s.MaxGap = max(30*time.Minute, s.MinGap)
	}
	ratio(&s.CancelRatio, 0.15)
	ratio(&s.ReturnRatio, 0.1)
	ratio(&s.LagRatio, 0.1)
	return s
}

// Step is one change at its simulated time (the order's UpdateTime).
type Step struct {
	At     time.Time
	Change Change
}

// Script is a sale's timeline: the changes, oldest first, that applied to
// the Sale in order (Sale.Put of each Change.Order) produce its final
// ground truth. Each order's changes have strictly increasing times in
// whole seconds.
type Script struct {
	// Sale holds the apps and shops from the start; orders join it as
	// their changes are applied.
	Sale *Sale
	// Start and End bound the steps' times.
	Start, End time.Time
	Steps      []Step
}

// Apply puts every change into the sale at once: the final ground truth
// without delivering anything.
func (s *Script) Apply() {
	for _, st := range s.Steps {
		s.Sale.Put(st.Change.Order)
	}
}

// TestApp returns the sandbox's fixed app credentials for p. They are
// published test values, NOT SECRET: the fakes accept them, no real
// marketplace does.
func TestApp(p order.Platform) App {
	switch p {
	case order.Shopee:
		return App{Key: "2001887", Secret: "sandbox-shopee-partner-key-NOT-SECRET", PushKey: "sandbox-shopee-push-key-NOT-SECRET"} //nolint:gosec // G101: the sandbox's published test credentials
	case order.Lazada:
		return App{Key: "100001", Secret: "sandbox-lazada-app-secret-NOT-SECRET"}
	case order.TikTok:
		return App{Key: "6sandboxtts01", Secret: "sandbox-tiktok-app-secret-NOT-SECRET"} //nolint:gosec // G101: the sandbox's published test credentials
	}
	return App{}
}

// region is a market's currency and the shape of its prices and addresses.
type region struct {
	code, currency string
	decimals       int
	// price range and step, in minor units
	lo, hi, step int64
	shipping     []int64
	city         string
	postcode     int // digits
}

var regions = []region{
	{"SG", "SGD", 2, 190, 20000, 10, []int64{0, 199, 299}, "Singapore", 6},
	{"MY", "MYR", 2, 500, 50000, 10, []int64{0, 490}, "Kuala Lumpur", 5},
	{"TH", "THB", 2, 2000, 500000, 100, []int64{0, 3800}, "Bangkok", 5},
	{"VN", "VND", 0, 10000, 2000000, 1000, []int64{0, 15000, 30000}, "Ho Chi Minh City", 6},
	{"ID", "IDR", 0, 5000, 1500000, 500, []int64{0, 9000, 20000}, "Jakarta Selatan", 5},
	{"PH", "PHP", 2, 5000, 500000, 100, []int64{0, 3600}, "Quezon City", 4},
}

func regionOf(code string) region {
	for _, r := range regions {
		if r.code == code {
			return r
		}
	}
	return regions[0]
}

var products = []string{
	"Wireless Earbuds Pro", "Stainless Steel Tumbler 500ml", "Cotton Crew T-Shirt",
	"Phone Case (Clear)", "USB-C Fast Charger 20W", "Bamboo Cutting Board",
	"Running Socks 3-Pack", "LED Desk Lamp", "Vitamin C Serum 30ml",
	"Mechanical Keyboard", "Yoga Mat 6mm", "Instant Noodles (Box of 30)",
}

// gen builds one sale's script.
type gen struct {
	rng   *rand.Rand
	spec  Spec
	seen  map[string]bool
	steps []Step
}

// Generate fills sale with apps (TestApp), shops and a script of orders
// following spec, drawing every choice from rng (same seed, same sale).
// The orders reach the sale as the script is applied (Script.Apply or
// Deliver).
func Generate(sale *Sale, spec Spec, rng *rand.Rand) *Script {
	spec = spec.withDefaults(sale.Now())
	g := &gen{rng: rng, spec: spec, seen: map[string]bool{}}
	shops := map[order.Platform][]Shop{}
	for _, p := range spec.Platforms {
		sale.SetApp(p, TestApp(p))
		for range spec.ShopsPerPlatform {
			sh := g.shop(p)
			sale.AddShop(sh)
			shops[p] = append(shops[p], sh)
		}
	}
	for i := range spec.Orders {
		p := spec.Platforms[i%len(spec.Platforms)]
		sh := shops[p][g.rng.IntN(len(shops[p]))]
		at := spec.Start.Add(time.Duration(g.rng.Int64N(int64(spec.Span/time.Second)+1)) * time.Second)
		l := &life{g: g, o: g.order(sh, at), at: at}
		switch p {
		case order.Shopee:
			g.shopee(l)
		case order.Lazada:
			g.lazada(l)
		case order.TikTok:
			g.tiktok(l)
		}
	}
	slices.SortStableFunc(g.steps, func(a, b Step) int { return a.At.Compare(b.At) })
	s := &Script{Sale: sale, Start: spec.Start, End: spec.Start, Steps: g.steps}
	if n := len(g.steps); n > 0 {
		s.End = g.steps[n-1].At
	}
	return s
}

func (g *gen) chance(p float64) bool { return g.rng.Float64() < p }

// between returns a whole number in [lo, hi].
func (g *gen) between(lo, hi int64) int64 { return lo + g.rng.Int64N(hi-lo+1) }

// digits returns n random decimal digits, the first not 0.
func (g *gen) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.rng.IntN(10))
	}
	b[0] = byte('1' + g.rng.IntN(9))
	return string(b)
}

// alnum returns n random upper-case letters and digits.
func (g *gen) alnum(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	upperDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	base62      = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// unique draws from f until it gets an id not drawn before in this sale.
func (g *gen) unique(f func() string) string {
	for {
		if id := f(); !g.seen[id] {
			g.seen[id] = true
			return id
		}
	}
}

func (g *gen) shop(p order.Platform) Shop {
	r := regions[g.rng.IntN(len(regions))].code
	switch p {
	case order.Shopee:
		return Shop{Platform: p, ShopID: g.unique(func() string { return g.digits(9) }), Region: r}
	case order.Lazada:
		return Shop{Platform: p, ShopID: g.unique(func() string { return g.digits(10) }), Region: r}
	}
	// TikTok: the push's numeric shop_id and the API's opaque cipher.
	return Shop{Platform: p, ShopID: g.unique(func() string { return "7494" + g.digits(15) }),
		Cipher: g.unique(func() string { return "GCP_" + g.alnum(32, base62) }), Region: r}
}

// amount formats v minor units with decimals fractional digits.
func amount(v int64, decimals int) order.Amount {
	if decimals == 0 {
		return order.MustAmount(strconv.FormatInt(v, 10))
	}
	unit := int64(1)
	for range decimals {
		unit *= 10
	}
	return order.MustAmount(fmt.Sprintf("%d.%0*d", v/unit, decimals, v%unit))
}

// order returns a new order of sh placed at at: 1-4 SKUs of 1-3 units each
// (one Unit per unit), prices in the shop's currency, a buyer and address.
func (g *gen) order(sh Shop, at time.Time) *Order {
	r := regionOf(sh.Region)
	o := &Order{Platform: sh.Platform, ShopID: sh.ShopID, CreateTime: at, VisibleAt: at, Currency: r.currency,
		ShippingFee: amount(r.shipping[g.rng.IntN(len(r.shipping))], r.decimals)}
	switch sh.Platform {
	case order.Shopee:
		o.OrderID = g.unique(func() string { return at.UTC().Format("060102") + g.alnum(8, upperDigits) })
	case order.Lazada:
		o.OrderID = g.unique(func() string { return g.digits(15) })
	default:
		o.OrderID = g.unique(func() string { return "57" + g.digits(16) })
	}
	if g.chance(g.spec.LagRatio) {
		o.VisibleAt = at.Add(time.Duration(g.between(20, 180)) * time.Second)
	}
	for range g.between(1, 4) {
		itemID := g.unique(func() string { return g.digits(10) })
		price := g.between(r.lo/r.step, r.hi/r.step) * r.step
		paid := price
		if g.chance(0.4) {
			paid = price - price*g.between(1, 4)*5/100/r.step*r.step
		}
		name := products[g.rng.IntN(len(products))]
		for range g.between(1, 3) {
			o.Units = append(o.Units, Unit{
				LineID: g.unique(func() string { return g.digits(15) }), ItemID: itemID,
				SKU: "SKU-" + itemID[len(itemID)-6:], Name: name,
				UnitPrice: amount(price, r.decimals), PaidPrice: amount(paid, r.decimals),
			})
		}
	}
	o.Buyer = order.Buyer{ID: g.digits(10), Username: string(rune('a'+g.rng.IntN(26))) + "****" + g.digits(2)}
	o.Address = order.Address{
		Name: "Buyer " + g.alnum(4, upperDigits), Phone: "+" + g.digits(2) + "******" + g.digits(3),
		Line: g.digits(2) + " Sandbox Street #" + g.digits(2) + "-" + g.digits(2), City: r.city,
		Postcode: g.digits(r.postcode), Country: r.code,
	}
	return o
}

// life records one order's changes.
type life struct {
	g  *gen
	o  *Order
	at time.Time
}

// wait moves the order's clock forward by the spec's gap (whole seconds).
func (l *life) wait() {
	lo, hi := int64(l.g.spec.MinGap/time.Second), int64(l.g.spec.MaxGap/time.Second)
	l.at = l.at.Add(time.Duration(max(1, l.g.between(lo, hi))) * time.Second)
}

// step records a change of the order at the current time.
func (l *life) step(kind order.Kind, lines []string, rev *Reverse) {
	l.o.UpdateTime = l.at
	if l.o.Platform == order.Lazada {
		l.o.Status = lazada.OrderStatus(unitStatuses(l.o.Units))
	}
	c := Change{Kind: kind, Order: l.o.clone(), LineIDs: slices.Clone(lines)}
	if rev != nil {
		for i := range c.Order.Reverses {
			if c.Order.Reverses[i].ID == rev.ID {
				r := c.Order.Reverses[i]
				r.LineIDs = slices.Clone(r.LineIDs)
				c.Reverse = &r
			}
		}
	}
	l.g.steps = append(l.g.steps, Step{At: l.at, Change: c})
}

// status sets the order status and records it after a wait (none for the
// first change).
func (l *life) status(s string) {
	if l.o.Status != "" {
		l.wait()
	}
	l.o.Status = s
	l.step(order.KindStatus, nil, nil)
}

// reverse adds or updates a reverse order and records the change.
func (l *life) reverse(id string, ret bool, status string, lines []string) {
	l.wait()
	kind := order.KindCancellation
	if ret {
		kind = order.KindReturn
	}
	i := slices.IndexFunc(l.o.Reverses, func(r Reverse) bool { return r.ID == id })
	if i < 0 {
		l.o.Reverses = append(l.o.Reverses, Reverse{ID: id, Return: ret, LineIDs: slices.Clone(lines)})
		i = len(l.o.Reverses) - 1
	}
	l.o.Reverses[i].Status = status
	l.step(kind, lines, &l.o.Reverses[i])
}

// pack gives the order one package with a tracking number.
func (l *life) pack(id, tracking, carrier string) {
	l.o.Packages = []order.Package{{ID: id, TrackingNo: tracking, Carrier: carrier}}
}

// shopee: UNPAID -> READY_TO_SHIP -> PROCESSED -> (tracking, code 4) ->
// SHIPPED -> TO_CONFIRM_RECEIVE -> COMPLETED; unpaid orders cancelled
// straight to CANCELLED, paid ones via IN_CANCEL -> CANCELLED.
func (g *gen) shopee(l *life) {
	cancel := g.spec.CancelRatio
	l.status("UNPAID")
	if g.chance(cancel * 0.4) {
		l.status("CANCELLED")
		return
	}
	l.status("READY_TO_SHIP")
	if g.chance(cancel * 0.6) {
		l.status("IN_CANCEL")
		l.status("CANCELLED")
		return
	}
	l.status("PROCESSED")
	l.wait()
	l.pack("OFG"+g.digits(12), "SPX"+regionCodeOf(l.o.Currency)+g.digits(12), "SPX Express")
	l.step(order.KindTracking, nil, nil)
	l.status("SHIPPED")
	l.status("TO_CONFIRM_RECEIVE")
	l.status("COMPLETED")
}

func regionCodeOf(currency string) string {
	for _, r := range regions {
		if r.currency == currency {
			return r.code
		}
	}
	return ""
}

// lines sets the status of the given lines.
func (l *life) lines(ids []string, status string) {
	for i := range l.o.Units {
		if slices.Contains(ids, l.o.Units[i].LineID) {
			l.o.Units[i].Status = status
		}
	}
}

// lineStatus changes lines (one push per line) after a wait (none for the
// first change).
func (l *life) lineStatus(ids []string, status string) {
	if l.o.Status != "" {
		l.wait()
	}
	l.lines(ids, status)
	l.step(order.KindStatus, ids, nil)
}

// lazada: per line unpaid -> pending -> packed -> ready_to_ship -> shipped
// -> delivered; unpaid orders canceled outright; after payment the buyer
// cancels one line (or the whole order) through a reverse order
// (CANCEL_INIT -> CANCEL_SUCCESS, then the lines canceled); a delivered
// order may be returned (RTM_INIT -> REFUND_SUCCESS, then the lines
// returned).
func (g *gen) lazada(l *life) {
	cancel := g.spec.CancelRatio
	var all []string
	for _, u := range l.o.Units {
		all = append(all, u.LineID)
	}
	l.lineStatus(all, "unpaid")
	if g.chance(cancel * 0.3) {
		l.lineStatus(all, "canceled")
		return
	}
	l.lineStatus(all, "pending")
	live := all
	switch {
	case len(all) > 1 && g.chance(cancel*0.5):
		line := all[g.rng.IntN(len(all))]
		id := g.unique(func() string { return "5" + g.digits(12) })
		l.reverse(id, false, "CANCEL_INIT", []string{line})
		l.reverse(id, false, "CANCEL_SUCCESS", []string{line})
		l.lineStatus([]string{line}, "canceled")
		live = slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == line })
	case g.chance(cancel * 0.4):
		id := g.unique(func() string { return "5" + g.digits(12) })
		l.reverse(id, false, "CANCEL_INIT", all)
		l.reverse(id, false, "CANCEL_SUCCESS", all)
		l.lineStatus(all, "canceled")
		return
	}
	l.wait()
	l.pack("FP"+g.digits(12), "LX"+regionCodeOf(l.o.Currency)+g.digits(11), "LEX")
	l.lines(live, "packed")
	l.step(order.KindStatus, live, nil)
	l.lineStatus(live, "ready_to_ship")
	l.lineStatus(live, "shipped")
	l.lineStatus(live, "delivered")
	if g.chance(g.spec.ReturnRatio) {
		id := g.unique(func() string { return "5" + g.digits(12) })
		l.reverse(id, true, "RTM_INIT", live)
		l.reverse(id, true, "REFUND_SUCCESS", live)
		l.lineStatus(live, "returned")
	}
}

// tiktok: UNPAID -> AWAITING_SHIPMENT -> (package, type 4) ->
// AWAITING_COLLECTION -> IN_TRANSIT -> DELIVERED -> COMPLETED; unpaid
// orders cancelled outright; a cancellation request (type 11) while
// awaiting shipment is granted (then CANCELLED, the API's word; the
// webhook says CANCEL) or withdrawn; a delivered order may see a return
// (type 12) before it completes.
func (g *gen) tiktok(l *life) {
	cancel := g.spec.CancelRatio
	var all []string
	for _, u := range l.o.Units {
		all = append(all, u.LineID)
	}
	l.status("UNPAID")
	if g.chance(cancel * 0.3) {
		l.status("CANCELLED")
		return
	}
	l.status("AWAITING_SHIPMENT")
	if g.chance(cancel * 0.9) {
		id := g.unique(func() string { return "46" + g.digits(16) })
		l.reverse(id, false, "CANCELLATION_REQUEST_PENDING", all)
		if !g.chance(0.25) {
			l.reverse(id, false, "CANCELLATION_REQUEST_SUCCESS", all)
			l.status("CANCELLED")
			return
		}
		l.reverse(id, false, "CANCELLATION_REQUEST_CANCEL", all)
	}
	l.wait()
	l.pack("11"+g.digits(16), "TT"+regionCodeOf(l.o.Currency)+g.digits(12), "J&T Express")
	l.step(order.KindPackage, nil, nil)
	l.status("AWAITING_COLLECTION")
	l.status("IN_TRANSIT")
	l.status("DELIVERED")
	if g.chance(g.spec.ReturnRatio) {
		id := g.unique(func() string { return "46" + g.digits(16) })
		l.reverse(id, true, "RETURN_OR_REFUND_REQUEST_PENDING", all)
		l.reverse(id, true, "RETURN_OR_REFUND_REQUEST_COMPLETE", all)
	}
	l.status("COMPLETED")
}

// unitStatuses are the units' statuses, for lazada.OrderStatus.
func unitStatuses(units []Unit) []string {
	out := make([]string, len(units))
	for i, u := range units {
		out[i] = u.Status
	}
	return out
}
