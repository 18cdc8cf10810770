// Package sandbox is a faithful fake of the three marketplaces, for tests,
// `orderlane simulate` and `orderlane sandbox`: a Sale holds the ground
// truth (shops, apps, tokens, orders with their lines and lifecycles); the
// per-marketplace packages (shopeesim, lazadasim, tiktoksim) serve it as
// that marketplace's Open API, signed and rate limited as the real one,
// and render its changes as that marketplace's signed pushes.
package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
)

// App is a marketplace app's credentials as the marketplace issued them.
type App struct {
	// Key is Shopee's partner_id (decimal), Lazada's and TikTok's app_key.
	Key string
	// Secret signs API requests (Shopee partner_key, app_secret).
	Secret string
	// PushKey signs Shopee pushes (the console's live push partner key);
	// Lazada and TikTok sign pushes with Secret.
	PushKey string
}

// Unit is one unit of an order: Lazada and TikTok list one row per unit,
// Shopee aggregates units of a SKU into one item with a quantity.
type Unit struct {
	LineID    string
	ItemID    string
	SKU       string
	Name      string
	UnitPrice order.Amount
	PaidPrice order.Amount
	// Status is the unit's own raw status (Lazada keeps one per line);
	// empty means the order's Status.
	Status string
}

// Reverse is a cancellation or return on the order.
type Reverse struct {
	ID     string
	Return bool // false: cancellation
	Status string
	// LineIDs are the units it covers.
	LineIDs []string
}

// Order is one order as the marketplace holds it: the ground truth.
type Order struct {
	Platform order.Platform
	ShopID   string
	OrderID  string
	// Status is the raw order-level status in the marketplace's vocabulary
	// (for Lazada, derived from the units' statuses).
	Status     string
	CreateTime time.Time
	UpdateTime time.Time
	Currency   string
	// ShippingFee and the units' PaidPrice sum to the total.
	ShippingFee order.Amount
	Units       []Unit
	Buyer       order.Buyer
	Address     order.Address
	Packages    []order.Package
	Reverses    []Reverse
	// VisibleAt is when the API starts returning the order: before it, the
	// API answers "not found" though a push may already have gone out
	// (replication lag at the marketplace).
	VisibleAt time.Time
}

// Total is what the buyer pays: units' paid prices plus shipping.
func (o *Order) Total() order.Amount {
	t := o.ShippingFee
	if t == "" {
		t = "0"
	}
	for _, u := range o.Units {
		t = t.Add(u.PaidPrice)
	}
	return t
}

// Items aggregates the units by SKU (first appearance order), as the
// unified model wants them.
func (o *Order) Items() []order.Item {
	var items []order.Item
	idx := map[string]int{}
	for _, u := range o.Units {
		if i, ok := idx[u.SKU]; ok {
			items[i].Quantity++
			continue
		}
		idx[u.SKU] = len(items)
		items = append(items, order.Item{ItemID: u.ItemID, SKU: u.SKU, Name: u.Name, Quantity: 1,
			UnitPrice: u.UnitPrice, PaidPrice: u.PaidPrice, Status: u.Status})
	}
	return items
}

// clone returns a deep copy, so readers never share slices with writers.
func (o *Order) clone() Order {
	c := *o
	c.Units = slices.Clone(o.Units)
	c.Packages = slices.Clone(o.Packages)
	c.Reverses = slices.Clone(o.Reverses)
	for i := range c.Reverses {
		c.Reverses[i].LineIDs = slices.Clone(c.Reverses[i].LineIDs)
	}
	return c
}

// Shop is one seller's shop on a marketplace.
type Shop struct {
	Platform order.Platform
	ShopID   string
	// Cipher is TikTok's shop_cipher.
	Cipher string
	Region string
}

type shopKey struct {
	p  order.Platform
	id string
}

// Sale is the marketplaces' state: apps, shops, tokens and orders. It is
// safe for concurrent use; readers get copies.
type Sale struct {
	mu     sync.Mutex
	now    func() time.Time
	apps   map[order.Platform]App
	shops  map[shopKey]Shop
	orders map[order.Key]*Order
	// tokens maps an access or refresh token to its grant.
	access  map[string]*grant
	refresh map[string]*grant
	codes   map[string]shopKey
	// AccessTTL and RefreshTTL are the lifetimes of issued tokens.
	AccessTTL, RefreshTTL time.Duration
}

type grant struct {
	shop  shopKey
	token marketplace.Token
}

// NewSale returns an empty sale on the clock now (time.Now if nil).
func NewSale(now func() time.Time) *Sale {
	if now == nil {
		now = time.Now
	}
	return &Sale{
		now: now, apps: map[order.Platform]App{}, shops: map[shopKey]Shop{},
		orders: map[order.Key]*Order{}, access: map[string]*grant{}, refresh: map[string]*grant{},
		codes: map[string]shopKey{}, AccessTTL: 4 * time.Hour, RefreshTTL: 30 * 24 * time.Hour,
	}
}

// Now is the sale's clock.
func (s *Sale) Now() time.Time { return s.now() }

// SetApp registers the app credentials the marketplace accepts.
func (s *Sale) SetApp(p order.Platform, a App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[p] = a
}

// App returns the app credentials of p.
func (s *Sale) App(p order.Platform) (App, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[p]
	return a, ok
}

// AddShop registers a shop.
func (s *Sale) AddShop(sh Shop) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shops[shopKey{sh.Platform, sh.ShopID}] = sh
}

// Shop returns a registered shop.
func (s *Sale) Shop(p order.Platform, shopID string) (Shop, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.shops[shopKey{p, shopID}]
	return sh, ok
}

// ShopByCipher finds a TikTok shop by its cipher.
func (s *Sale) ShopByCipher(p order.Platform, cipher string) (Shop, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, sh := range s.shops {
		if k.p == p && sh.Cipher == cipher {
			return sh, true
		}
	}
	return Shop{}, false
}

// Shops lists p's shops, sorted by id.
func (s *Sale) Shops(p order.Platform) []Shop {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Shop
	for k, sh := range s.shops {
		if k.p == p {
			out = append(out, sh)
		}
	}
	slices.SortFunc(out, func(a, b Shop) int { return compare(a.ShopID, b.ShopID) })
	return out
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// AuthCode issues a one-time authorisation code for a shop, as the
// marketplace's consent page hands to the seller's callback.
func (s *Sale) AuthCode(p order.Platform, shopID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := randomToken()
	s.codes[c] = shopKey{p, shopID}
	return c
}

// Exchange trades a code for a token (once).
func (s *Sale) Exchange(p order.Platform, code string) (Shop, marketplace.Token, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.codes[code]
	if !ok || k.p != p {
		return Shop{}, marketplace.Token{}, false
	}
	delete(s.codes, code)
	return s.shops[k], s.issue(k), true
}

// IssueToken grants a token directly (tests that skip the consent flow).
func (s *Sale) IssueToken(p order.Platform, shopID string) marketplace.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issue(shopKey{p, shopID})
}

func (s *Sale) issue(k shopKey) marketplace.Token {
	now := s.now()
	t := marketplace.Token{AccessToken: randomToken(), RefreshToken: randomToken(),
		AccessExpiresAt: now.Add(s.AccessTTL), RefreshExpiresAt: now.Add(s.RefreshTTL)}
	g := &grant{shop: k, token: t}
	s.access[t.AccessToken] = g
	s.refresh[t.RefreshToken] = g
	return t
}

// Refresh trades a refresh token for a new token; the old access and
// refresh tokens stop working.
func (s *Sale) Refresh(p order.Platform, refreshToken string) (Shop, marketplace.Token, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.refresh[refreshToken]
	if !ok || g.shop.p != p || !s.now().Before(g.token.RefreshExpiresAt) {
		return Shop{}, marketplace.Token{}, false
	}
	delete(s.refresh, refreshToken)
	delete(s.access, g.token.AccessToken)
	return s.shops[g.shop], s.issue(g.shop), true
}

// Authorize reports which shop an access token of p belongs to, if it is
// valid now.
func (s *Sale) Authorize(p order.Platform, accessToken string) (Shop, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.access[accessToken]
	if !ok || g.shop.p != p || !s.now().Before(g.token.AccessExpiresAt) {
		return Shop{}, false
	}
	return s.shops[g.shop], true
}

// Put stores or replaces an order (the caller sets UpdateTime).
func (s *Sale) Put(o Order) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := o.clone()
	s.orders[order.Key{Platform: o.Platform, ShopID: o.ShopID, OrderID: o.OrderID}] = &c
}

// Update changes an order under the lock and returns the new version.
func (s *Sale) Update(k order.Key, f func(o *Order)) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[k]
	if !ok {
		return Order{}, false
	}
	f(o)
	return o.clone(), true
}

// Order returns an order as the API would serve it now: not found before
// its VisibleAt.
func (s *Sale) Order(k order.Key) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[k]
	if !ok || s.now().Before(o.VisibleAt) {
		return Order{}, false
	}
	return o.clone(), true
}

// Truth returns an order as it is, visible or not: the ground truth.
func (s *Sale) Truth(k order.Key) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[k]
	if !ok {
		return Order{}, false
	}
	return o.clone(), true
}

// Orders returns every order (the ground truth), sorted by key.
func (s *Sale) Orders() []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Order, 0, len(s.orders))
	for _, o := range s.orders {
		out = append(out, o.clone())
	}
	slices.SortFunc(out, func(a, b Order) int {
		if c := compare(string(a.Platform), string(b.Platform)); c != 0 {
			return c
		}
		if c := compare(a.ShopID, b.ShopID); c != 0 {
			return c
		}
		return compare(a.OrderID, b.OrderID)
	})
	return out
}

// UpdatedBetween lists a shop's visible orders with from <= UpdateTime <
// to, oldest update first (then by id), as list APIs page through them.
func (s *Sale) UpdatedBetween(p order.Platform, shopID string, from, to time.Time) []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []Order
	for k, o := range s.orders {
		if k.Platform != p || k.ShopID != shopID || now.Before(o.VisibleAt) {
			continue
		}
		if !o.UpdateTime.Before(from) && o.UpdateTime.Before(to) {
			out = append(out, o.clone())
		}
	}
	slices.SortFunc(out, func(a, b Order) int {
		if c := a.UpdateTime.Compare(b.UpdateTime); c != 0 {
			return c
		}
		return compare(a.OrderID, b.OrderID)
	})
	return out
}

// Push is one signed webhook a marketplace sends.
type Push struct {
	Platform order.Platform
	// Header and Signature: the marketplace puts Signature in Header
	// ("Authorization" for all three).
	Header    string
	Signature string
	Body      []byte
	// Kind is what the push is about (status, tracking, ...), for the
	// delivery engine's scenarios (tracking before status, ...).
	Kind order.Kind
	// OrderID is the order it is about ("" for shop-level pushes).
	OrderID string
}

// Change is one thing that happened to an order, which a marketplace turns
// into pushes.
type Change struct {
	Kind order.Kind
	// Order is the order after the change.
	Order Order
	// LineIDs are the units whose status changed (Lazada pushes one
	// message per line), and Reverse the cancellation or return that
	// changed, if any.
	LineIDs []string
	Reverse *Reverse
}

// Marketplace is one marketplace's fake: its Open API and its pushes.
type Marketplace interface {
	Platform() order.Platform
	// Handler serves the Open API over the sale (signature checks, rate
	// limits and error shapes as the real one).
	Handler() http.Handler
	// Pushes renders a change as the signed pushes the marketplace sends
	// for it (possibly several: Lazada sends one per line; none when the
	// marketplace sends no push for such a change).
	Pushes(c Change) ([]Push, error)
}
