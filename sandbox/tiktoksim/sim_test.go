package tiktoksim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/internal/simtest"
	"github.com/orderlane/orderlane/sandbox/tiktoksim"
)

const (
	appKey    = "29a39d"
	appSecret = "e59af819cc"
	shopID    = "7494049642642441621"
	cipher    = "ROW_8Xq1rAAAAAAdo5t5GmYdcj6yB6Kk"
)

// bundle is what a test needs: a sale with the app and a shop, the sim
// behind an HTTP server that counts its 429s, and a client of it.
type bundle struct {
	clock   *simtest.Clock
	sale    *sandbox.Sale
	sim     *tiktoksim.Sim
	srv     *httptest.Server
	client  *tiktok.Client
	tooMany atomic.Int64 // 429 answers
}

func setup(t *testing.T, cfg tiktoksim.Config, tune func(*tiktok.ClientConfig)) *bundle {
	t.Helper()
	b := &bundle{clock: simtest.NewClock(time.Now().Truncate(time.Second))}
	b.sale = sandbox.NewSale(b.clock.Now)
	b.sale.SetApp(order.TikTok, sandbox.App{Key: appKey, Secret: appSecret})
	b.sale.AddShop(sandbox.Shop{Platform: order.TikTok, ShopID: shopID, Cipher: cipher, Region: "ID"})
	b.sale.AddShop(sandbox.Shop{Platform: order.TikTok, ShopID: "other", Cipher: "ROW_other", Region: "TH"})
	if cfg.Clock == nil {
		cfg.Clock = b.clock.Now // the test's clock stands for real time too
	}
	b.sim = tiktoksim.New(b.sale, cfg)
	h := b.sim.Handler()
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusTooManyRequests {
			b.tooMany.Add(1)
		}
	}))
	t.Cleanup(b.srv.Close)
	b.client = b.newClient(t, tune)
	return b
}

func (b *bundle) newClient(t *testing.T, tune func(*tiktok.ClientConfig)) *tiktok.Client {
	t.Helper()
	cfg := tiktok.ClientConfig{AppKey: appKey, AppSecret: appSecret, BaseURL: b.srv.URL, AuthBaseURL: b.srv.URL,
		Now: b.clock.Now, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond}
	if tune != nil {
		tune(&cfg)
	}
	c, err := tiktok.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// connect runs the consent flow through the client.
func (b *bundle) connect(t *testing.T) marketplace.Shop {
	t.Helper()
	code := b.sale.AuthCode(order.TikTok, shopID)
	shop, err := b.client.ExchangeCode(context.Background(), code, marketplace.Shop{ShopID: shopID})
	if err != nil {
		t.Fatal(err)
	}
	return shop
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(s int) {
	r.status = s
	r.ResponseWriter.WriteHeader(s)
}

// sampleOrder has two units of one SKU, one of another, two packages.
func sampleOrder(now time.Time, id, status string) sandbox.Order {
	return sandbox.Order{
		Platform: order.TikTok, ShopID: shopID, OrderID: id, Status: status,
		CreateTime: now.Add(-time.Hour), UpdateTime: now.Add(-time.Minute), Currency: "USD", ShippingFee: "4.99",
		Units: []sandbox.Unit{
			{LineID: id + "01", ItemID: "1729582718312380123", SKU: "red-256", Name: "Crochet top", UnitPrice: "12.5", PaidPrice: "10"},
			{LineID: id + "02", ItemID: "1729582718312380999", SKU: "case-clear", Name: "Phone case", UnitPrice: "3.05", PaidPrice: "3.05"},
			{LineID: id + "03", ItemID: "1729582718312380123", SKU: "red-256", Name: "Crochet top", UnitPrice: "12.5", PaidPrice: "10"},
		},
		Buyer:   order.Buyer{ID: "7021436810468230477", Username: "v2f8x@scs.tiktokw.us"},
		Address: order.Address{Name: "Ja***n", Phone: "(+62)812****34", Line: "Jl. Sudirman 1", City: "Jakarta Selatan", State: "DKI Jakarta", Postcode: "12190", Country: "ID"},
		Packages: []order.Package{
			{ID: "1153132168123859123", TrackingNo: "JX12345", Carrier: "J&T Express", Status: "PROCESSING"},
			{ID: "1153132168123859124", TrackingNo: "JX12346", Carrier: "J&T Express", Status: "PROCESSING"},
		},
	}
}

func TestExchangeAndRefresh(t *testing.T) {
	t.Parallel()
	b := setup(t, tiktoksim.Config{}, nil)
	ctx := context.Background()
	shop := b.connect(t)
	if shop.Cipher != cipher || shop.Region != "ID" || shop.Platform != order.TikTok || shop.ShopID != shopID {
		t.Fatalf("shop = %+v", shop)
	}
	if want := b.clock.Now().Add(b.sale.AccessTTL); !shop.Token.AccessExpiresAt.Equal(want) {
		t.Errorf("access expires %v, want %v (expire_in is a Unix time)", shop.Token.AccessExpiresAt, want)
	}
	if _, err := b.client.Orders(ctx, shop, []string{"1"}); err != nil {
		t.Fatalf("orders with the new token: %v", err)
	}

	tok, err := b.client.Refresh(ctx, shop)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == shop.Token.AccessToken || tok.RefreshToken == shop.Token.RefreshToken {
		t.Fatal("refresh returned the old tokens")
	}
	_, err = b.client.Orders(ctx, shop, []string{"1"})
	if ae := simtest.APIError(t, err); !errors.Is(err, marketplace.ErrAuth) || ae.Code != "105001" || ae.Status != 401 {
		t.Errorf("old access token: %v, want 105001 ErrAuth", err)
	}
	_, err = b.client.Refresh(ctx, shop)
	if ae := simtest.APIError(t, err); !errors.Is(err, marketplace.ErrAuth) || ae.Code != "36004005" {
		t.Errorf("old refresh token: %v, want 36004005 ErrAuth", err)
	}
	shop.Token = tok
	if _, err := b.client.Orders(ctx, shop, []string{"1"}); err != nil {
		t.Fatalf("orders with the refreshed token: %v", err)
	}
}

func TestExchangeCodeErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, tiktoksim.Config{}, nil)
	ctx := context.Background()
	code := b.sale.AuthCode(order.TikTok, shopID)
	if _, err := b.client.ExchangeCode(ctx, code, marketplace.Shop{ShopID: shopID}); err != nil {
		t.Fatal(err)
	}
	_, err := b.client.ExchangeCode(ctx, code, marketplace.Shop{ShopID: shopID})
	if !errors.Is(err, marketplace.ErrAuth) {
		t.Errorf("reused code: %v, want ErrAuth", err)
	}
	// The token covers shopID, not the shop the callback named.
	code = b.sale.AuthCode(order.TikTok, shopID)
	if _, err := b.client.ExchangeCode(ctx, code, marketplace.Shop{ShopID: "other"}); err == nil {
		t.Error("a token for another shop was accepted")
	}
	// TikTok's callback names no shop: the token's only shop is taken.
	code = b.sale.AuthCode(order.TikTok, shopID)
	if got, err := b.client.ExchangeCode(ctx, code, marketplace.Shop{}); err != nil || got.ShopID != shopID || got.Cipher == "" {
		t.Errorf("exchange without a shop id: %+v %v; want shop %s with its cipher", got, err, shopID)
	}
	bad := b.newClient(t, func(c *tiktok.ClientConfig) { c.AppSecret = "wrong" })
	code = b.sale.AuthCode(order.TikTok, shopID)
	_, err = bad.ExchangeCode(ctx, code, marketplace.Shop{ShopID: shopID})
	if ae := simtest.APIError(t, err); ae.Code != "36009004" || ae.Kind != nil {
		t.Errorf("wrong app secret: %+v", ae)
	}
}

// TestOrdersMatchTruth: what the client reads through the sim is the
// sale's ground truth.
func TestOrdersMatchTruth(t *testing.T) {
	t.Parallel()
	b := setup(t, tiktoksim.Config{}, nil)
	shop := b.connect(t)
	now := b.clock.Now()
	paid := sampleOrder(now, "576461413038785752", "AWAITING_COLLECTION")
	unpaid := sampleOrder(now, "576461413038785753", "UNPAID")
	unpaid.Packages = nil
	cancelled := sampleOrder(now, "576461413038785754", "CANCEL")
	for _, o := range []sandbox.Order{paid, unpaid, cancelled} {
		b.sale.Put(o)
	}
	got, err := b.client.Orders(context.Background(), shop, []string{paid.OrderID, unpaid.OrderID, cancelled.OrderID, "404"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d orders, want 3 (unknown id absent)", len(got))
	}
	for _, o := range []sandbox.Order{paid, unpaid, cancelled} {
		truth, _ := b.sale.Truth(order.Key{Platform: order.TikTok, ShopID: shopID, OrderID: o.OrderID})
		d := got[o.OrderID]
		if !reflect.DeepEqual(d.Items, truth.Items()) {
			t.Errorf("%s items =\n%+v\nwant\n%+v", o.OrderID, d.Items, truth.Items())
		}
		if d.Total.Cmp(truth.Total()) != 0 || d.Total != truth.Total() || d.ShippingFee != truth.ShippingFee || d.Currency != truth.Currency {
			t.Errorf("%s amounts: total %s shipping %s %s, want %s %s %s", o.OrderID, d.Total, d.ShippingFee, d.Currency,
				truth.Total(), truth.ShippingFee, truth.Currency)
		}
		if tiktok.MapStatus(d.Status) != tiktok.MapStatus(truth.Status) {
			t.Errorf("%s status %s, want %s", o.OrderID, d.Status, truth.Status)
		}
		if !d.UpdateTime.Equal(truth.UpdateTime.Truncate(time.Second)) || !d.CreateTime.Equal(truth.CreateTime.Truncate(time.Second)) {
			t.Errorf("%s times %v %v, want %v %v", o.OrderID, d.UpdateTime, d.CreateTime, truth.UpdateTime, truth.CreateTime)
		}
		if d.Buyer != truth.Buyer {
			t.Errorf("%s buyer %+v, want %+v", o.OrderID, d.Buyer, truth.Buyer)
		}
		if !slices.Equal(d.Packages, truth.Packages) {
			t.Errorf("%s packages %+v, want %+v", o.OrderID, d.Packages, truth.Packages)
		}
	}
	if a := got[paid.OrderID].Address; a == nil || *a != paid.Address {
		t.Errorf("address = %+v, want %+v", a, paid.Address)
	}
	if a := got[unpaid.OrderID].Address; a != nil {
		t.Errorf("UNPAID order has an address: %+v", a)
	}
	if s := got[cancelled.OrderID].Status; s != "CANCELLED" {
		t.Errorf("the API says %s for a cancelled order, want CANCELLED", s)
	}
}

func TestOrderNotYetVisible(t *testing.T) {
	t.Parallel()
	b := setup(t, tiktoksim.Config{}, nil)
	shop := b.connect(t)
	o := sampleOrder(b.clock.Now(), "576461413038785760", "AWAITING_SHIPMENT")
	o.VisibleAt = b.clock.Now().Add(time.Minute)
	b.sale.Put(o)
	got, err := b.client.Orders(context.Background(), shop, []string{o.OrderID})
	if err != nil || len(got) != 0 {
		t.Fatalf("before VisibleAt: %v, %v; want absent, no error", got, err)
	}
	page, err := b.client.Updated(context.Background(), shop, b.clock.Now().Add(-time.Hour), b.clock.Now(), "")
	if err != nil || len(page.Orders) != 0 {
		t.Fatalf("search before VisibleAt: %+v, %v", page, err)
	}
	b.clock.Advance(2 * time.Minute)
	got, err = b.client.Orders(context.Background(), shop, []string{o.OrderID})
	if err != nil || len(got) != 1 {
		t.Fatalf("after VisibleAt: %v, %v; want the order", got, err)
	}
}

// TestUpdatedPagesThroughWindow: the listing pages through exactly the
// orders updated in [from, to), oldest first.
func TestUpdatedPagesThroughWindow(t *testing.T) {
	t.Parallel()
	b := setup(t, tiktoksim.Config{}, nil)
	shop := b.connect(t)
	base := b.clock.Now().Add(-10 * time.Hour)
	for i := range 260 {
		o := sampleOrder(base, fmt.Sprintf("5764614130387%05d", i), "AWAITING_SHIPMENT")
		o.UpdateTime = base.Add(time.Duration(i) * time.Minute)
		b.sale.Put(o)
	}
	from, to := base.Add(10*time.Minute), base.Add(230*time.Minute) // orders 10..229
	var want []string
	for _, o := range b.sale.UpdatedBetween(order.TikTok, shopID, from, to) {
		want = append(want, o.OrderID)
	}
	if len(want) != 220 {
		t.Fatalf("truth has %d orders in the window", len(want))
	}
	var got []string
	cursor, pages := "", 0
	for {
		page, err := b.client.Updated(context.Background(), shop, from, to, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Orders) > tiktok.MaxPageSize {
			t.Fatalf("page of %d", len(page.Orders))
		}
		for _, r := range page.Orders {
			got = append(got, r.OrderID)
			if r.UpdateTime.Before(from) || !r.UpdateTime.Before(to) || r.Status != "AWAITING_SHIPMENT" {
				t.Fatalf("ref %+v outside the window", r)
			}
		}
		if cursor = page.Cursor; cursor == "" {
			break
		}
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("%d pages, %d orders; want 3 pages of the %d in the window, in order", pages, len(got), len(want))
	}
}

func TestRejectedRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, tiktoksim.Config{}, nil)
	shop := b.connect(t)
	ctx := context.Background()

	wrong := b.newClient(t, func(c *tiktok.ClientConfig) { c.AppSecret = "e59af819cd" })
	_, err := wrong.Orders(ctx, shop, []string{"1"})
	if ae := simtest.APIError(t, err); ae.Code != "106001" || ae.Status != http.StatusUnauthorized || ae.Kind != nil || ae.RequestID == "" {
		t.Errorf("bad sign: %+v, want 106001, HTTP 401, no kind", ae)
	}

	stale := b.newClient(t, func(c *tiktok.ClientConfig) {
		c.Now = func() time.Time { return b.clock.Now().Add(-6 * time.Minute) }
	})
	_, err = stale.Orders(ctx, shop, []string{"1"})
	if ae := simtest.APIError(t, err); ae.Code != "36009004" || ae.Kind != nil {
		t.Errorf("stale timestamp: %+v, want 36009004, no kind", ae)
	}

	other := shop
	other.Cipher = "ROW_other"
	_, err = b.client.Orders(ctx, other, []string{"1"})
	if ae := simtest.APIError(t, err); ae.Code != "36009004" || ae.Status != http.StatusBadRequest {
		t.Errorf("another shop's cipher: %+v", ae)
	}

	b.clock.Advance(b.sale.AccessTTL + time.Second)
	_, err = b.client.Orders(ctx, shop, []string{"1"})
	if ae := simtest.APIError(t, err); ae.Code != "105002" || !errors.Is(err, marketplace.ErrAuth) || ae.Status != http.StatusUnauthorized {
		t.Errorf("expired token: %+v, want 105002 ErrAuth", ae)
	}
	tok, err := b.client.Refresh(ctx, shop)
	if err != nil {
		t.Fatalf("refresh after expiry: %v", err)
	}
	shop.Token = tok
	if _, err := b.client.Orders(ctx, shop, []string{"1"}); err != nil {
		t.Fatalf("after refresh: %v", err)
	}
}

// Test429Retried: the client retries the sim's 429 and gets through.
func Test429Retried(t *testing.T) {
	t.Parallel()
	b := setup(t, tiktoksim.Config{RatePerSecond: 5, Burst: 1}, func(c *tiktok.ClientConfig) {
		c.RatePerSecond = -1 // no client-side limit: meet the sim's
		c.MaxAttempts = 8
		c.BackoffMin, c.BackoffMax = 100*time.Millisecond, 400*time.Millisecond
	})
	shop := b.connect(t)
	for range 3 {
		if _, err := b.client.Orders(context.Background(), shop, []string{"1"}); err != nil {
			t.Fatal(err)
		}
	}
	if b.tooMany.Load() == 0 {
		t.Fatal("the sim never answered 429: the test tests nothing")
	}

	once := b.newClient(t, func(c *tiktok.ClientConfig) { c.RatePerSecond, c.MaxAttempts = -1, 1 })
	var last error
	for range 3 {
		if _, last = once.Orders(context.Background(), shop, []string{"1"}); last != nil {
			break
		}
	}
	if ae := simtest.APIError(t, last); ae.Code != "36009002" || ae.Status != http.StatusTooManyRequests || !errors.Is(last, marketplace.ErrRateLimited) {
		t.Errorf("429 without retries: %+v", ae)
	}
}

// TestClientLimitKeepsUnderSimLimit: with its defaults the client never
// meets the sim's default limit (50/s per path and shop), however many
// goroutines share it; without its limit it does.
func TestClientLimitKeepsUnderSimLimit(t *testing.T) {
	t.Parallel()
	burst := func(c *tiktok.Client, shop marketplace.Shop) {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 10 {
					_, _ = c.Orders(context.Background(), shop, []string{"1"})
				}
			})
		}
		wg.Wait()
	}
	b := setup(t, tiktoksim.Config{}, nil)
	shop := b.connect(t)
	burst(b.client, shop)
	if n := b.tooMany.Load(); n != 0 {
		t.Fatalf("%d answers 429 with the client's default limit", n)
	}
	unlimited := b.newClient(t, func(c *tiktok.ClientConfig) { c.RatePerSecond = -1 })
	burst(unlimited, shop)
	if b.tooMany.Load() == 0 {
		t.Fatal("no 429 without the client's limit either: the sim does not limit")
	}
}

func TestContextCancellation(t *testing.T) {
	t.Parallel()
	b := setup(t, tiktoksim.Config{RatePerSecond: 0.001, Burst: 1}, func(c *tiktok.ClientConfig) {
		c.RatePerSecond, c.MaxAttempts = -1, 100
		c.BackoffMin, c.BackoffMax = time.Second, 5*time.Second
	})
	shop := b.connect(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.client.Orders(ctx, shop, []string{"1"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	// The first call takes the sim's only token; the second meets 429 and
	// waits in backoff until its deadline.
	first, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	_, _ = b.client.Orders(first, shop, []string{"1"})
	ctx, cancel = context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.client.Orders(ctx, shop, []string{"1"})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 900*time.Millisecond {
		t.Fatalf("deadline during backoff: %v after %v", err, time.Since(start))
	}
	if !errors.Is(err, marketplace.ErrRateLimited) {
		t.Errorf("the last failure (429) is not kept in %v", err)
	}
}

// TestNotificationIDsUniqueAcrossFakes: two fakes (two runs against one
// receiver) never reuse a tts_notification_id, which receivers key on.
func TestNotificationIDsUniqueAcrossFakes(t *testing.T) {
	t.Parallel()
	ids := map[string]bool{}
	for range 2 {
		b := setup(t, tiktoksim.Config{}, nil)
		o := sandbox.Order{Platform: order.TikTok, ShopID: shopID, OrderID: "576486316948490001", Status: "UNPAID",
			CreateTime: b.clock.Now(), UpdateTime: b.clock.Now(), Currency: "IDR"}
		pushes, err := b.sim.Pushes(sandbox.Change{Kind: order.KindStatus, Order: o})
		if err != nil || len(pushes) == 0 {
			t.Fatalf("pushes: %v %v", pushes, err)
		}
		var env struct {
			ID string `json:"tts_notification_id"`
		}
		if err := json.Unmarshal(pushes[0].Body, &env); err != nil || len(env.ID) != 19 {
			t.Fatalf("notification id %q: %v", env.ID, err)
		}
		if ids[env.ID] {
			t.Fatalf("notification id %s reused by a second fake", env.ID)
		}
		ids[env.ID] = true
	}
}
