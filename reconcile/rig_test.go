package reconcile_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
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

// clock is a settable clock shared by the sale, the clients and the code
// under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// rig is the three marketplace fakes over one sale, served over HTTP with
// a call counter per platform and path, their API clients, and a SQLite
// store with its shop store.
type rig struct {
	clock   *clock
	sale    *sandbox.Sale
	shopee  *shopeesim.Sim
	lazada  *lazadasim.Sim
	tiktok  *tiktoksim.Sim
	calls   sync.Map // platform + path -> *atomic.Int64
	clients map[order.Platform]marketplace.Client
	store   *sqlite.Store
	shops   *sqlite.Shops
}

const callbackURL = "https://orderlane.example.com/webhook/shopee"

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{clock: &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}, clients: map[order.Platform]marketplace.Client{}}
	r.sale = sandbox.NewSale(r.clock.Now)
	for _, p := range order.Platforms {
		r.sale.SetApp(p, sandbox.TestApp(p))
	}
	r.shopee = shopeesim.New(r.sale, shopeesim.Config{CallbackURL: callbackURL, Clock: r.clock.Now})
	r.lazada = lazadasim.New(r.sale, lazadasim.Config{Clock: r.clock.Now})
	r.tiktok = tiktoksim.New(r.sale, tiktoksim.Config{RatePerSecond: -1, Clock: r.clock.Now})
	serve := func(p order.Platform, h http.Handler) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			n, _ := r.calls.LoadOrStore(string(p)+req.URL.Path, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			h.ServeHTTP(w, req)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	fast := func() (time.Duration, time.Duration) { return time.Millisecond, 5 * time.Millisecond }
	lo, hi := fast()
	sp := sandbox.TestApp(order.Shopee)
	sc, err := shopee.NewClient(shopee.ClientConfig{PartnerID: sp.Key, PartnerKey: sp.Secret, BaseURL: serve(order.Shopee, r.shopee.Handler()),
		Now: r.clock.Now, RatePerSecond: -1, BackoffMin: lo, BackoffMax: hi})
	if err != nil {
		t.Fatal(err)
	}
	lz := sandbox.TestApp(order.Lazada)
	lc, err := lazada.NewClient(lazada.ClientConfig{AppKey: lz.Key, AppSecret: lz.Secret, BaseURL: serve(order.Lazada, r.lazada.Handler()),
		Now: r.clock.Now, RatePerSecond: -1, BackoffMin: lo, BackoffMax: hi})
	if err != nil {
		t.Fatal(err)
	}
	tt := sandbox.TestApp(order.TikTok)
	tURL := serve(order.TikTok, r.tiktok.Handler())
	tc, err := tiktok.NewClient(tiktok.ClientConfig{AppKey: tt.Key, AppSecret: tt.Secret, BaseURL: tURL, AuthBaseURL: tURL,
		Now: r.clock.Now, RatePerSecond: -1, BackoffMin: lo, BackoffMax: hi})
	if err != nil {
		t.Fatal(err)
	}
	r.clients[order.Shopee], r.clients[order.Lazada], r.clients[order.TikTok] = sc, lc, tc
	r.store, err = sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "orderlane.db"), Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.store.Close() })
	sealer, err := shop.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	r.shops = r.store.Shops(sealer)
	return r
}

// connect stores sh as a connected shop with a fresh token.
func (r *rig) connect(t *testing.T, sh sandbox.Shop, state shop.State) shop.Connection {
	t.Helper()
	c := shop.Connection{
		Shop: marketplace.Shop{Platform: sh.Platform, ShopID: sh.ShopID, Cipher: sh.Cipher, Region: sh.Region,
			Token: r.sale.IssueToken(sh.Platform, sh.ShopID)},
		State: state, ConnectedAt: r.clock.Now(),
	}
	if err := r.shops.Put(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}
