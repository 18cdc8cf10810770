package lazadasim_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/internal/simtest"
	"github.com/orderlane/orderlane/sandbox/lazadasim"
)

const (
	appKey    = "123456"
	appSecret = "sim-secret-3412gyo124goi3124"
	shopID    = "1000143772"
)

var t0 = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

// recorder counts the requests per API path and the ApiCallLimit answers.
type recorder struct {
	next     http.Handler
	mu       sync.Mutex
	paths    map[string]int
	queries  []url.Values
	limited  atomic.Int64
	requests atomic.Int64
}

type captureWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (c *captureWriter) Write(b []byte) (int, error) {
	c.buf.Write(b)
	return c.ResponseWriter.Write(b)
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	r.mu.Lock()
	r.paths[req.URL.Path]++
	r.queries = append(r.queries, req.URL.Query())
	r.mu.Unlock()
	cw := &captureWriter{ResponseWriter: w}
	r.next.ServeHTTP(cw, req)
	if bytes.Contains(cw.buf.Bytes(), []byte(`"code":"ApiCallLimit"`)) {
		r.limited.Add(1)
	}
}

func (r *recorder) count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.paths[path]
}

type bundle struct {
	clock  *simtest.Clock
	sale   *sandbox.Sale
	sim    *lazadasim.Sim
	rec    *recorder
	url    string
	client *lazada.Client
	shop   marketplace.Shop
}

// setup starts a sim over a sale with one shop and a connected client;
// simCfg and edit adjust the sim and the client's config.
func setup(t *testing.T, simCfg lazadasim.Config, edit func(*lazada.ClientConfig)) *bundle {
	t.Helper()
	b := &bundle{clock: simtest.NewClock(t0)}
	b.sale = sandbox.NewSale(b.clock.Now)
	b.sale.SetApp(order.Lazada, sandbox.App{Key: appKey, Secret: appSecret})
	b.sale.AddShop(sandbox.Shop{Platform: order.Lazada, ShopID: shopID, Region: "sg"})
	if simCfg.Clock == nil {
		simCfg.Clock = b.clock.Now // the test's clock stands for real time too
	}
	b.sim = lazadasim.New(b.sale, simCfg)
	b.rec = &recorder{next: b.sim.Handler(), paths: map[string]int{}}
	srv := httptest.NewServer(b.rec)
	t.Cleanup(srv.Close)
	b.url = srv.URL + "/rest"
	b.client = b.newClient(t, edit)
	tok := b.sale.IssueToken(order.Lazada, shopID)
	b.shop = marketplace.Shop{Platform: order.Lazada, ShopID: shopID, Region: "sg", Token: tok}
	return b
}

func (b *bundle) newClient(t *testing.T, edit func(*lazada.ClientConfig)) *lazada.Client {
	t.Helper()
	cfg := lazada.ClientConfig{AppKey: appKey, AppSecret: appSecret, BaseURL: b.url, Now: b.clock.Now,
		RatePerSecond: -1, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	c, err := lazada.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sampleOrder is an order of n units: SKU-A twice (same status), SKU-B,
// and more SKU-C units, with a package and a buyer.
func sampleOrder(id string, n int, update time.Time) sandbox.Order {
	o := sandbox.Order{
		Platform: order.Lazada, ShopID: shopID, OrderID: id, Status: "ready_to_ship",
		CreateTime: update.Add(-time.Hour), UpdateTime: update, Currency: "SGD",
		ShippingFee: order.MustAmount("1.99"),
		Buyer:       order.Buyer{ID: "100112802006", Username: "Wati S."},
		Address: order.Address{Name: "Wati S.", Phone: "6591234567", Line: "318 Tanglin Road, #01-59",
			City: "Singapore", State: "Central", Postcode: "247979", Country: "Singapore"},
		Packages: []order.Package{{ID: "FP" + id, TrackingNo: "LXSG" + id, Carrier: "LEX SG"}},
	}
	skus := []struct{ sku, name, price, paid string }{
		{"SKU-A", "Tea cup", "12.50", "10.00"}, {"SKU-A", "Tea cup", "12.50", "10.00"},
		{"SKU-B", "Kettle", "40.00", "38.5"},
	}
	for i := range n {
		s := struct{ sku, name, price, paid string }{"SKU-C", "Saucer", "3.00", "3.00"}
		if i < len(skus) {
			s = skus[i]
		}
		o.Units = append(o.Units, sandbox.Unit{LineID: fmt.Sprintf("%s%02d", id, i), ItemID: "PID-" + s.sku, SKU: s.sku,
			Name: s.name, UnitPrice: order.MustAmount(s.price), PaidPrice: order.MustAmount(s.paid), Status: "ready_to_ship"})
	}
	return o
}

// wantItems is the truth's items with the line statuses made explicit.
func wantItems(o sandbox.Order) []order.Item {
	items := o.Items()
	for i := range items {
		if items[i].Status == "" {
			items[i].Status = o.Status
		}
	}
	return items
}

// checkDetail compares a fetched detail with the ground truth.
func checkDetail(t *testing.T, got order.Detail, truth sandbox.Order) {
	t.Helper()
	if !reflect.DeepEqual(got.Items, wantItems(truth)) {
		t.Errorf("Items = %+v\nwant %+v", got.Items, wantItems(truth))
	}
	if got.Total.Cmp(truth.Total()) != 0 || got.Total != truth.Total() {
		t.Errorf("Total = %q, want %q", got.Total, truth.Total())
	}
	if got.ShippingFee != truth.ShippingFee || got.Currency != truth.Currency || got.Status != truth.Status {
		t.Errorf("ShippingFee, Currency, Status = %q %q %q, want %q %q %q", got.ShippingFee, got.Currency, got.Status,
			truth.ShippingFee, truth.Currency, truth.Status)
	}
	if got.Buyer != truth.Buyer {
		t.Errorf("Buyer = %+v, want %+v", got.Buyer, truth.Buyer)
	}
	if got.Address == nil || *got.Address != truth.Address {
		t.Errorf("Address = %+v, want %+v", got.Address, truth.Address)
	}
	if !reflect.DeepEqual(got.Packages, truth.Packages) {
		t.Errorf("Packages = %+v, want %+v", got.Packages, truth.Packages)
	}
	if !got.CreateTime.Equal(truth.CreateTime.Truncate(time.Second)) || !got.UpdateTime.Equal(truth.UpdateTime.Truncate(time.Second)) {
		t.Errorf("times = %s %s, want %s %s", got.CreateTime, got.UpdateTime, truth.CreateTime, truth.UpdateTime)
	}
}

func TestExchangeCodeAndRefresh(t *testing.T) {
	t.Parallel()
	b := setup(t, lazadasim.Config{}, nil)
	ctx := context.Background()
	b.sale.Put(sampleOrder("5001", 2, t0))

	code := b.sale.AuthCode(order.Lazada, shopID)
	shop, err := b.client.ExchangeCode(ctx, code, marketplace.Shop{})
	if err != nil {
		t.Fatal(err)
	}
	if shop.ShopID != shopID || shop.Region != "sg" || shop.Platform != order.Lazada {
		t.Fatalf("shop = %+v", shop)
	}
	if !shop.Token.AccessExpiresAt.Equal(t0.Add(b.sale.AccessTTL)) || !shop.Token.RefreshExpiresAt.Equal(t0.Add(b.sale.RefreshTTL)) {
		t.Fatalf("expiry = %s / %s", shop.Token.AccessExpiresAt, shop.Token.RefreshExpiresAt)
	}
	if _, err := b.client.ExchangeCode(ctx, code, marketplace.Shop{}); !isAPIError(err, "InvalidCode", marketplace.ErrAuth) {
		t.Fatalf("code reused: %v", err)
	}
	if _, err := b.client.ExchangeCode(ctx, b.sale.AuthCode(order.Lazada, shopID), marketplace.Shop{ShopID: "999"}); err == nil {
		t.Fatal("a token of another seller was accepted")
	}
	if got, err := b.client.Orders(ctx, shop, []string{"5001"}); err != nil || len(got) != 1 {
		t.Fatalf("Orders with the new token: %v, %v", got, err)
	}

	b.clock.Advance(time.Minute)
	tok, err := b.client.Refresh(ctx, shop)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == shop.Token.AccessToken || !tok.AccessExpiresAt.Equal(b.clock.Now().Add(b.sale.AccessTTL)) {
		t.Fatalf("refreshed token = %v", tok)
	}
	if _, err := b.client.Orders(ctx, shop, []string{"5001"}); !isAPIError(err, "IllegalAccessToken", marketplace.ErrAuth) {
		t.Fatalf("old access token: %v", err)
	}
	if _, err := b.client.Refresh(ctx, shop); !isAPIError(err, "IllegalRefreshToken", marketplace.ErrAuth) {
		t.Fatalf("old refresh token: %v", err)
	}
	shop.Token = tok
	if got, err := b.client.Orders(ctx, shop, []string{"5001"}); err != nil || len(got) != 1 {
		t.Fatalf("Orders with the refreshed token: %v, %v", got, err)
	}
}

func isAPIError(err error, code string, kind error) bool {
	var ae *marketplace.APIError
	return errors.As(err, &ae) && ae.Code == code && ae.Kind == kind && ae.Platform == order.Lazada && ae.RequestID != ""
}

func TestOrdersMatchGroundTruth(t *testing.T) {
	t.Parallel()
	b := setup(t, lazadasim.Config{}, nil)
	ctx := context.Background()

	plain := sampleOrder("6001", 5, t0.Add(-time.Minute))
	// Lines in different statuses: SKU-A has one unit shipped, one
	// canceled; the order is "shipped" (the least advanced live line).
	mixed := sampleOrder("6002", 3, t0.Add(-2*time.Minute))
	mixed.Units[0].Status = "shipped"
	mixed.Units[1].Status = "canceled"
	mixed.Units[2].Status = "delivered"
	mixed.Status = "shipped"
	mixed.Packages = append(mixed.Packages, order.Package{ID: "FP6002b", TrackingNo: "LXSG6002b", Carrier: "Ninja Van"})
	for _, o := range []sandbox.Order{plain, mixed} {
		b.sale.Put(o)
	}

	got, err := b.client.Orders(ctx, b.shop, []string{"6001", "6002", "6001", "7777"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d orders, want 2 (7777 unknown)", len(got))
	}
	checkDetail(t, got["6001"], plain)
	if got["6001"].Items[0].Quantity != 2 || got["6001"].Items[2].Quantity != 2 {
		t.Fatalf("units not aggregated: %+v", got["6001"].Items)
	}
	if !got["6001"].FetchedAt.Equal(t0) {
		t.Fatalf("FetchedAt = %s", got["6001"].FetchedAt)
	}

	m := got["6002"]
	wantMixed := []order.Item{
		{ItemID: "PID-SKU-A", SKU: "SKU-A", Name: "Tea cup", Quantity: 1, UnitPrice: "12.5", PaidPrice: "10", Status: "shipped"},
		{ItemID: "PID-SKU-A", SKU: "SKU-A", Name: "Tea cup", Quantity: 1, UnitPrice: "12.5", PaidPrice: "10", Status: "canceled"},
		{ItemID: "PID-SKU-B", SKU: "SKU-B", Name: "Kettle", Quantity: 1, UnitPrice: "40", PaidPrice: "38.5", Status: "delivered"},
	}
	if !reflect.DeepEqual(m.Items, wantMixed) {
		t.Fatalf("mixed items = %+v", m.Items)
	}
	if m.Status != "shipped" || m.Total != mixed.Total() || len(m.Packages) != 2 {
		t.Fatalf("mixed: status %q total %q packages %+v", m.Status, m.Total, m.Packages)
	}
}

func TestOrdersBatchesItemsFifty(t *testing.T) {
	t.Parallel()
	b := setup(t, lazadasim.Config{}, nil)
	var ids []string
	for i := range 60 {
		o := sampleOrder(fmt.Sprint(8000+i), 1+i%4, t0)
		b.sale.Put(o)
		ids = append(ids, o.OrderID)
	}
	got, err := b.client.Orders(context.Background(), b.shop, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 60 {
		t.Fatalf("got %d orders", len(got))
	}
	for _, o := range b.sale.Orders() {
		checkDetail(t, got[o.OrderID], o)
	}
	if n := b.rec.count("/rest" + lazada.PathOrdersItems); n != 2 {
		t.Fatalf("%d /orders/items/get calls, want 2 (50 + 10)", n)
	}
	if n := b.rec.count("/rest" + lazada.PathOrderItems); n != 0 {
		t.Fatalf("%d /order/items/get calls, want 0", n)
	}
}

func TestOrderNotYetVisible(t *testing.T) {
	t.Parallel()
	b := setup(t, lazadasim.Config{}, nil)
	ctx := context.Background()
	o := sampleOrder("9001", 2, t0)
	o.VisibleAt = t0.Add(30 * time.Second)
	b.sale.Put(o)

	got, err := b.client.Orders(ctx, b.shop, []string{"9001"})
	if err != nil || len(got) != 0 {
		t.Fatalf("before VisibleAt: %v, %v", got, err)
	}
	page, err := b.client.Updated(ctx, b.shop, t0.Add(-time.Hour), t0.Add(time.Hour), "")
	if err != nil || len(page.Orders) != 0 {
		t.Fatalf("listed before VisibleAt: %+v, %v", page, err)
	}
	b.clock.Advance(time.Minute)
	got, err = b.client.Orders(ctx, b.shop, []string{"9001"})
	if err != nil || len(got) != 1 {
		t.Fatalf("after VisibleAt: %v, %v", got, err)
	}
	checkDetail(t, got["9001"], o)
}

func TestUpdatedPagesThroughWindow(t *testing.T) {
	t.Parallel()
	b := setup(t, lazadasim.Config{}, func(c *lazada.ClientConfig) { c.PageSize = 3 })
	ctx := context.Background()
	from, to := t0.Add(-time.Hour), t0
	var want []string
	for i := range 10 {
		// Updates from from-2s on, 1 s apart, two at the same second; the
		// last ones fall on and after to.
		up := from.Add(time.Duration(i-2) * time.Second)
		if i == 5 {
			up = from.Add(2 * time.Second)
		}
		o := sampleOrder(fmt.Sprint(7100+i), 1, up)
		b.sale.Put(o)
		if !up.Before(from) {
			want = append(want, o.OrderID)
		}
	}
	atEnd := sampleOrder("7200", 1, to) // excluded: the window ends before to
	b.sale.Put(atEnd)
	justIn := sampleOrder("7201", 1, to.Add(-time.Second))
	b.sale.Put(justIn)
	want = append(want, justIn.OrderID)
	slices.SortFunc(want, func(x, y string) int {
		ox, _ := b.sale.Truth(order.Key{Platform: order.Lazada, ShopID: shopID, OrderID: x})
		oy, _ := b.sale.Truth(order.Key{Platform: order.Lazada, ShopID: shopID, OrderID: y})
		if c := ox.UpdateTime.Compare(oy.UpdateTime); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})

	var got []string
	cursor, pages := "", 0
	for {
		page, err := b.client.Updated(ctx, b.shop, from, to, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range page.Orders {
			got = append(got, r.OrderID)
			if r.Status != "ready_to_ship" || r.UpdateTime.Before(from) || !r.UpdateTime.Before(to) {
				t.Fatalf("ref %+v", r)
			}
		}
		if page.Cursor == "" {
			break
		}
		if len(page.Orders) != 3 || pages > 10 {
			t.Fatalf("page %d has %d orders and cursor %q", pages, len(page.Orders), page.Cursor)
		}
		cursor = page.Cursor
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	if pages != (len(want)+2)/3 {
		t.Fatalf("%d pages for %d orders", pages, len(want))
	}
}

func TestSimRefusalsSurfaceAsAPIErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, lazadasim.Config{}, nil)
	ctx := context.Background()
	b.sale.Put(sampleOrder("5101", 1, t0))

	wrongSecret := b.newClient(t, func(c *lazada.ClientConfig) { c.AppSecret = "not-the-secret" })
	_, err := wrongSecret.Orders(ctx, b.shop, []string{"5101"})
	if !isAPIError(err, "IncompleteSignature", nil) {
		t.Fatalf("wrong secret: %v", err)
	}
	var ae *marketplace.APIError
	if errors.As(err, &ae); ae.Status != http.StatusOK || strings.Contains(err.Error(), b.shop.Token.AccessToken) {
		t.Fatalf("error %v (status %d)", err, ae.Status)
	}

	stale := b.newClient(t, func(c *lazada.ClientConfig) {
		c.Now = func() time.Time { return b.clock.Now().Add(-2*time.Hour - time.Second) }
	})
	if _, err := stale.Orders(ctx, b.shop, []string{"5101"}); !isAPIError(err, "InvalidTimestamp", nil) {
		t.Fatalf("stale timestamp: %v", err)
	}
	within := b.newClient(t, func(c *lazada.ClientConfig) {
		c.Now = func() time.Time { return b.clock.Now().Add(-2*time.Hour + time.Second) }
	})
	if _, err := within.Orders(ctx, b.shop, []string{"5101"}); err != nil {
		t.Fatalf("timestamp within 7200 s: %v", err)
	}

	b.clock.Advance(b.sale.AccessTTL)
	_, err = b.client.Orders(ctx, b.shop, []string{"5101"})
	if !isAPIError(err, "IllegalAccessToken", marketplace.ErrAuth) || !errors.Is(err, marketplace.ErrAuth) {
		t.Fatalf("expired token: %v", err)
	}
}

func TestSimRateLimitRetried(t *testing.T) {
	t.Parallel()
	// The sim allows 20/s with no burst; the client does not limit itself
	// and sends back to back: the sim refuses with ApiCallLimit and the
	// client's retries get through.
	b := setup(t, lazadasim.Config{RatePerSecond: 20, Burst: 1}, func(c *lazada.ClientConfig) {
		c.BackoffMin, c.BackoffMax, c.MaxAttempts = 60*time.Millisecond, 120*time.Millisecond, 6
	})
	b.sale.Put(sampleOrder("5201", 1, t0))
	for range 4 {
		got, err := b.client.Orders(context.Background(), b.shop, []string{"5201"})
		if err != nil || len(got) != 1 {
			t.Fatalf("Orders: %v, %v", got, err)
		}
	}
	if b.rec.limited.Load() == 0 {
		t.Fatal("the sim never refused: the test does not test the retry")
	}
}

func TestClientLimiterStaysUnderSimLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, lazadasim.Config{RatePerSecond: 40, Burst: 5}, func(c *lazada.ClientConfig) {
		c.RatePerSecond, c.Burst, c.MaxAttempts = 30, 5, 1
	})
	b.sale.Put(sampleOrder("5301", 1, t0))
	for range 20 {
		if _, err := b.client.Orders(context.Background(), b.shop, []string{"5301"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.rec.limited.Load(); n != 0 {
		t.Fatalf("%d ApiCallLimit answers", n)
	}
	if n := b.rec.count("/rest" + lazada.PathOrder); n != 20 {
		t.Fatalf("%d requests", n)
	}
}

func TestContextCancellation(t *testing.T) {
	t.Parallel()
	b := setup(t, lazadasim.Config{RatePerSecond: 0.001, Burst: 1}, func(c *lazada.ClientConfig) {
		c.BackoffMin, c.BackoffMax, c.MaxAttempts = time.Second, time.Second, 10
	})
	b.sale.Put(sampleOrder("5401", 1, t0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.client.Orders(ctx, b.shop, []string{"5401"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	// The first request spends the only token; the next waits in backoff
	// until the deadline.
	if _, err := b.client.Updated(context.Background(), b.shop, t0.Add(-time.Hour), t0, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.client.Updated(ctx, b.shop, t0.Add(-time.Hour), t0, "")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, marketplace.ErrRateLimited) {
		t.Fatalf("deadline: %v", err)
	}
	if time.Since(start) > 900*time.Millisecond {
		t.Fatal("the client did not stop at the deadline")
	}
}
