// Package sandboxrig is a test rig for the packages that call the
// marketplaces' APIs (enrich, reconcile): the three marketplace fakes over
// one sandbox.Sale, served over HTTP with a call counter per platform and
// path, the real API clients pointed at them, and a SQLite store with its
// shop store. Only tests import it.
package sandboxrig

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/lazadasim"
	"github.com/orderlane/orderlane/sandbox/shopeesim"
	"github.com/orderlane/orderlane/sandbox/tiktoksim"
	"github.com/orderlane/orderlane/shop"
	"github.com/orderlane/orderlane/store/sqlite"
)

// CallbackURL is the Shopee fake's push callback URL.
const CallbackURL = "https://orderlane.example.com/webhook/shopee"

// Start is the rig clock's time when New returns.
var Start = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// Clock is a settable clock shared by the sale, the clients and the code
// under test. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock by d (back if d is negative).
func (c *Clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Rig is the three marketplace fakes over one sale, their API clients and
// a SQLite store with its shop store (tokens sealed with a zero key).
type Rig struct {
	Clock   *Clock
	Sale    *sandbox.Sale
	Shopee  *shopeesim.Sim
	Lazada  *lazadasim.Sim
	TikTok  *tiktoksim.Sim
	Clients map[order.Platform]marketplace.Client
	Store   *sqlite.Store
	Shops   *sqlite.Shops

	calls sync.Map // platform + path -> *atomic.Int64
}

// New starts a rig whose servers and store stop at the end of the test.
// The clients do not rate limit and back off 1-5ms.
func New(t testing.TB) *Rig {
	t.Helper()
	r := &Rig{Clock: &Clock{t: Start}, Clients: map[order.Platform]marketplace.Client{}}
	r.Sale = sandbox.NewSale(r.Clock.Now)
	for _, p := range order.Platforms {
		r.Sale.SetApp(p, sandbox.TestApp(p))
	}
	r.Shopee = shopeesim.New(r.Sale, shopeesim.Config{CallbackURL: CallbackURL, Clock: r.Clock.Now})
	r.Lazada = lazadasim.New(r.Sale, lazadasim.Config{Clock: r.Clock.Now})
	r.TikTok = tiktoksim.New(r.Sale, tiktoksim.Config{RatePerSecond: -1, Clock: r.Clock.Now})
	serve := func(p order.Platform, h http.Handler) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			n, _ := r.calls.LoadOrStore(string(p)+req.URL.Path, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			h.ServeHTTP(w, req)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	lo, hi := time.Millisecond, 5*time.Millisecond
	sp := sandbox.TestApp(order.Shopee)
	sc, err := shopee.NewClient(shopee.ClientConfig{PartnerID: sp.Key, PartnerKey: sp.Secret, BaseURL: serve(order.Shopee, r.Shopee.Handler()),
		Now: r.Clock.Now, RatePerSecond: -1, BackoffMin: lo, BackoffMax: hi})
	if err != nil {
		t.Fatal(err)
	}
	lz := sandbox.TestApp(order.Lazada)
	lc, err := lazada.NewClient(lazada.ClientConfig{AppKey: lz.Key, AppSecret: lz.Secret, BaseURL: serve(order.Lazada, r.Lazada.Handler()),
		Now: r.Clock.Now, RatePerSecond: -1, BackoffMin: lo, BackoffMax: hi})
	if err != nil {
		t.Fatal(err)
	}
	tt := sandbox.TestApp(order.TikTok)
	tURL := serve(order.TikTok, r.TikTok.Handler())
	tc, err := tiktok.NewClient(tiktok.ClientConfig{AppKey: tt.Key, AppSecret: tt.Secret, BaseURL: tURL, AuthBaseURL: tURL,
		Now: r.Clock.Now, RatePerSecond: -1, BackoffMin: lo, BackoffMax: hi})
	if err != nil {
		t.Fatal(err)
	}
	r.Clients[order.Shopee], r.Clients[order.Lazada], r.Clients[order.TikTok] = sc, lc, tc
	r.Store, err = sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "orderlane.db"), Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Store.Close() })
	sealer, err := shop.NewSealer(make([]byte, shop.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	r.Shops = r.Store.Shops(sealer)
	return r
}

// Count is how many requests the fake of p served on path ("" for all).
func (r *Rig) Count(p order.Platform, path string) int64 {
	var total int64
	r.calls.Range(func(k, v any) bool {
		key := k.(string)
		if key == string(p)+path || (path == "" && strings.HasPrefix(key, string(p)) && len(key) > len(p)) {
			total += v.(*atomic.Int64).Load()
		}
		return true
	})
	return total
}

// Connect stores sh as a shop in state with a fresh token.
func (r *Rig) Connect(t testing.TB, sh sandbox.Shop, state shop.State) shop.Connection {
	t.Helper()
	c := shop.Connection{
		Shop: marketplace.Shop{Platform: sh.Platform, ShopID: sh.ShopID, Cipher: sh.Cipher, Region: sh.Region,
			Token: r.Sale.IssueToken(sh.Platform, sh.ShopID)},
		State: state, ConnectedAt: r.Clock.Now(),
	}
	if err := r.Shops.Put(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}
