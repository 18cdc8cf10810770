package shopeesim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/internal/simtest"
	"github.com/orderlane/orderlane/sandbox/shopeesim"
)

const (
	partnerID   = "2001887"
	partnerKey  = "partner-key-for-tests"
	pushKey     = "live-push-key-for-tests"
	shopID      = "14701711"
	callbackURL = "https://orderlane.example.com/webhook/shopee"
)

type bundle struct {
	clock  *simtest.Clock
	sale   *sandbox.Sale
	sim    *shopeesim.Sim
	srv    *httptest.Server
	calls  *sync.Map // path -> *atomic.Int64
	shop   marketplace.Shop
	client *shopee.Client
}

// setup starts a sim over a sale with one Shopee shop and a client with a
// token for it. cfg and mod adjust the sim and the client.
func setup(t testing.TB, cfg shopeesim.Config, mod func(*shopee.ClientConfig)) *bundle {
	t.Helper()
	b := &bundle{clock: simtest.NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)), calls: &sync.Map{}}
	b.sale = sandbox.NewSale(b.clock.Now)
	b.sale.SetApp(order.Shopee, sandbox.App{Key: partnerID, Secret: partnerKey, PushKey: pushKey})
	b.sale.AddShop(sandbox.Shop{Platform: order.Shopee, ShopID: shopID, Region: "SG"})
	if cfg.CallbackURL == "" {
		cfg.CallbackURL = callbackURL
	}
	if cfg.Clock == nil {
		cfg.Clock = b.clock.Now // the test's clock stands for real time too
	}
	b.sim = shopeesim.New(b.sale, cfg)
	h := b.sim.Handler()
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := b.calls.LoadOrStore(r.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(b.srv.Close)
	b.client = newClient(t, b, mod)
	b.shop = marketplace.Shop{Platform: order.Shopee, ShopID: shopID, Token: b.sale.IssueToken(order.Shopee, shopID)}
	return b
}

func newClient(t testing.TB, b *bundle, mod func(*shopee.ClientConfig)) *shopee.Client {
	t.Helper()
	cfg := shopee.ClientConfig{PartnerID: partnerID, PartnerKey: partnerKey, BaseURL: b.srv.URL, Now: b.clock.Now,
		RatePerSecond: -1, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	c, err := shopee.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (b *bundle) count(path string) int64 {
	n, ok := b.calls.Load(path)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

// put stores a Shopee order of the test shop: units of the given SKUs
// (repeats are several units), shipping 2.5, one package with tracking.
func (b *bundle) put(id string, updated time.Time, skus ...string) sandbox.Order {
	o := sandbox.Order{
		Platform: order.Shopee, ShopID: shopID, OrderID: id, Status: "READY_TO_SHIP",
		CreateTime: updated.Add(-time.Hour), UpdateTime: updated, Currency: "SGD", ShippingFee: "2.5",
		Buyer:    order.Buyer{ID: "9001", Username: "buyer_" + id},
		Address:  order.Address{Name: "Tan", Phone: "6591234567", Line: "1 Raffles Place", City: "Singapore", Postcode: "048616", Country: "SG"},
		Packages: []order.Package{{ID: "OFG" + id, TrackingNo: "SPX" + id, Carrier: "SPX Express", Status: "LOGISTICS_REQUEST_CREATED"}},
	}
	for i, sku := range skus {
		o.Units = append(o.Units, sandbox.Unit{LineID: id + "-" + strconv.Itoa(i), ItemID: "77" + strconv.Itoa(len(sku)),
			SKU: sku, Name: "Item " + sku, UnitPrice: "19.9", PaidPrice: "17.35"})
	}
	b.sale.Put(o)
	return o
}

func TestExchangeAndRefresh(t *testing.T) {
	t.Parallel()
	b := setup(t, shopeesim.Config{}, nil)
	ctx := context.Background()
	b.put("A1", b.clock.Now(), "MUG")

	shop, err := b.client.ExchangeCode(ctx, b.sale.AuthCode(order.Shopee, shopID), marketplace.Shop{ShopID: shopID})
	if err != nil {
		t.Fatal(err)
	}
	if shop.Platform != order.Shopee || shop.ShopID != shopID || !shop.Token.AccessExpiresAt.Equal(b.clock.Now().Add(b.sale.AccessTTL)) {
		t.Fatalf("exchanged shop = %+v", shop)
	}
	if _, err := b.client.Orders(ctx, shop, []string{"A1"}); err != nil {
		t.Fatalf("exchanged token refused: %v", err)
	}
	// A code works once.
	code := b.sale.AuthCode(order.Shopee, shopID)
	if _, err := b.client.ExchangeCode(ctx, code, marketplace.Shop{ShopID: shopID}); err != nil {
		t.Fatal(err)
	}
	_, err = b.client.ExchangeCode(ctx, code, marketplace.Shop{ShopID: shopID})
	if e := simtest.APIError(t, err); e.Code != "error_auth" || !errors.Is(err, marketplace.ErrAuth) {
		t.Fatalf("reused code: %v", err)
	}

	tok, err := b.client.Refresh(ctx, shop)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == shop.Token.AccessToken || tok.RefreshToken == shop.Token.RefreshToken {
		t.Fatal("refresh returned the old tokens")
	}
	_, err = b.client.Orders(ctx, shop, []string{"A1"})
	if e := simtest.APIError(t, err); e.Status != http.StatusForbidden || e.Code != "invalid_acceess_token" || !errors.Is(err, marketplace.ErrAuth) {
		t.Fatalf("old access token after refresh: %v", err)
	}
	_, err = b.client.Refresh(ctx, shop) // the old refresh token is spent
	if !errors.Is(err, marketplace.ErrAuth) {
		t.Fatalf("spent refresh token: err = %v, want ErrAuth", err)
	}
	shop.Token = tok
	if got, err := b.client.Orders(ctx, shop, []string{"A1"}); err != nil || len(got) != 1 {
		t.Fatalf("new token: %v, %v", got, err)
	}
}

func TestOrdersMatchGroundTruth(t *testing.T) {
	t.Parallel()
	b := setup(t, shopeesim.Config{}, nil)
	now := b.clock.Now()
	var ids []string
	truth := map[string]sandbox.Order{}
	for i := range 55 { // more than one get_order_detail batch
		id := fmt.Sprintf("250601ORD%03d", i)
		o := b.put(id, now.Add(-time.Duration(i)*time.Minute), "MUG-BLUE", "COASTER", "MUG-BLUE")
		truth[id] = o
		ids = append(ids, id)
	}
	// Units of one SKU at different prices: Shopee's one row keeps the first.
	odd := truth[ids[0]]
	odd.Units[2].PaidPrice = "9.99"
	b.sale.Put(odd)
	truth[ids[0]] = odd

	got, err := b.client.Orders(context.Background(), b.shop, append(ids, "NOT-AN-ORDER"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) {
		t.Fatalf("got %d orders, want %d (the unknown one absent)", len(got), len(ids))
	}
	for _, id := range ids {
		o, d := truth[id], got[id]
		if !reflect.DeepEqual(d.Items, o.Items()) {
			t.Fatalf("%s items =\n%+v\nwant\n%+v", id, d.Items, o.Items())
		}
		if d.Total.Cmp(o.Total()) != 0 || d.ShippingFee != o.ShippingFee || d.Currency != o.Currency || d.Status != o.Status ||
			!d.UpdateTime.Equal(o.UpdateTime) || !d.CreateTime.Equal(o.CreateTime) || d.Buyer != o.Buyer ||
			d.Address == nil || *d.Address != o.Address || !reflect.DeepEqual(d.Packages, o.Packages) {
			t.Fatalf("%s detail =\n%+v\nwant from\n%+v (total %s)", id, d, o, o.Total())
		}
	}
	if n := b.count(shopee.PathOrderDetail); n != 2 {
		t.Fatalf("%d get_order_detail calls, want 2", n)
	}
	if n := b.count(shopee.PathPackageDetail); n != 2 {
		t.Fatalf("%d get_package_detail calls for 55 packages, want 2", n)
	}
}

func TestOrderNotYetVisibleIsAbsentThenPresent(t *testing.T) {
	t.Parallel()
	b := setup(t, shopeesim.Config{}, nil)
	o := b.put("LAG1", b.clock.Now(), "MUG")
	o.VisibleAt = b.clock.Now().Add(90 * time.Second)
	b.sale.Put(o)
	ctx := context.Background()
	got, err := b.client.Orders(ctx, b.shop, []string{"LAG1"})
	if err != nil || len(got) != 0 {
		t.Fatalf("before VisibleAt: %v, %v; want absent without error", got, err)
	}
	page, err := b.client.Updated(ctx, b.shop, o.UpdateTime.Add(-time.Hour), o.UpdateTime.Add(time.Hour), "")
	if err != nil || len(page.Orders) != 0 {
		t.Fatalf("listing before VisibleAt: %+v, %v", page, err)
	}
	b.clock.Advance(2 * time.Minute)
	got, err = b.client.Orders(ctx, b.shop, []string{"LAG1"})
	if err != nil || got["LAG1"].Status != "READY_TO_SHIP" {
		t.Fatalf("after VisibleAt: %v, %v", got, err)
	}
}

func TestUpdatedPagesThroughAWindow(t *testing.T) {
	t.Parallel()
	b := setup(t, shopeesim.Config{}, func(c *shopee.ClientConfig) { c.PageSize = 7 })
	from := b.clock.Now().Add(-40 * 24 * time.Hour)
	to := b.clock.Now()
	want := map[string]string{}
	for i := range 30 {
		id := fmt.Sprintf("UPD%02d", i)
		at := from.Add(time.Duration(i) * 32 * time.Hour) // spread over 40 days
		o := b.put(id, at, "MUG")
		if i%3 == 0 {
			o.Status = "SHIPPED"
			b.sale.Put(o)
		}
		want[id] = o.Status
	}
	b.put("BEFORE", from.Add(-time.Second), "MUG")
	b.put("AT-TO", to, "MUG") // to is exclusive
	got := map[string]string{}
	cursor, pages := "", 0
	for {
		page, err := b.client.Updated(context.Background(), b.shop, from, to, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range page.Orders {
			if _, dup := got[r.OrderID]; dup {
				t.Fatalf("order %s listed twice", r.OrderID)
			}
			got[r.OrderID] = r.Status
		}
		if cursor = page.Cursor; cursor == "" {
			break
		}
		if pages > 50 {
			t.Fatal("paging does not end")
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("listed %v\nwant %v", got, want)
	}
	if pages < 5 {
		t.Fatalf("%d pages for 30 orders at 7 a page in 3 slices, want at least 5", pages)
	}
}

func TestBadSignatureRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, shopeesim.Config{}, nil)
	bad := newClient(t, b, func(c *shopee.ClientConfig) { c.PartnerKey = "not-the-partner-key" })
	_, err := bad.Orders(context.Background(), b.shop, []string{"A"})
	e := simtest.APIError(t, err)
	if e.Status != http.StatusForbidden || e.Code != "error_sign" || e.Message != "Wrong sign." || e.RequestID == "" || !errors.Is(err, marketplace.ErrAuth) {
		t.Fatalf("wrong key: %+v", e)
	}
}

func TestExpiredTokenRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, shopeesim.Config{}, nil)
	b.clock.Advance(b.sale.AccessTTL + time.Second)
	_, err := b.client.Orders(context.Background(), b.shop, []string{"A"})
	if e := simtest.APIError(t, err); e.Code != "invalid_acceess_token" || !errors.Is(err, marketplace.ErrAuth) {
		t.Fatalf("expired token: %v", err)
	}
}

func TestStaleTimestampRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, shopeesim.Config{}, nil)
	late := newClient(t, b, func(c *shopee.ClientConfig) {
		c.Now = func() time.Time { return b.clock.Now().Add(-6 * time.Minute) }
	})
	_, err := late.Orders(context.Background(), b.shop, []string{"A"})
	e := simtest.APIError(t, err)
	if e.Status != http.StatusBadRequest || e.Code != "error_param" || !strings.Contains(e.Message, "timestamp") || e.Kind != nil {
		t.Fatalf("stale timestamp: %+v", e)
	}
	if n := b.count(shopee.PathOrderDetail); n != 1 {
		t.Fatalf("a refusal was sent %d times, want once", n)
	}
}

func TestRateLimitedRequestIsRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, shopeesim.Config{RatePerSecond: 5, Burst: 1}, func(c *shopee.ClientConfig) {
		c.BackoffMin, c.BackoffMax = 150*time.Millisecond, 300*time.Millisecond
	})
	b.put("R1", b.clock.Now(), "MUG")
	ctx := context.Background()
	for range 3 {
		if got, err := b.client.Orders(ctx, b.shop, []string{"R1"}); err != nil || len(got) != 1 {
			t.Fatalf("Orders = %v, %v; want success after retrying 429", got, err)
		}
	}
	if b.sim.Throttled() == 0 {
		t.Fatal("the sim never answered 429: the test did not exercise the retry")
	}
}

func TestRateLimitSurfacesAfterRetries(t *testing.T) {
	t.Parallel()
	b := setup(t, shopeesim.Config{RatePerSecond: 0.001, Burst: 1}, func(c *shopee.ClientConfig) { c.MaxAttempts = 2 })
	ctx := context.Background()
	_, _ = b.client.Orders(ctx, b.shop, []string{"A"})
	_, err := b.client.Orders(ctx, b.shop, []string{"A"})
	if e := simtest.APIError(t, err); e.Status != http.StatusTooManyRequests || !errors.Is(err, marketplace.ErrRateLimited) {
		t.Fatalf("err = %v, want 429 as ErrRateLimited", err)
	}
}

func TestClientLimiterStaysUnderSimLimit(t *testing.T) {
	t.Parallel()
	// 30 concurrent calls per path would exceed the sim's burst of 20 at
	// once; the client's limit (below the sim's, as one configures it in
	// production) spreads them. The sim's bucket starts when the first
	// request arrives, after the client's: its larger burst absorbs that
	// head start even on a loaded machine.
	b := setup(t, shopeesim.Config{RatePerSecond: 40, Burst: 20}, func(c *shopee.ClientConfig) {
		c.RatePerSecond, c.Burst = 30, 3
	})
	b.put("L1", b.clock.Now(), "MUG")
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for range 30 {
		wg.Go(func() {
			if _, err := b.client.Orders(context.Background(), b.shop, []string{"L1"}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := b.sim.Throttled(); n != 0 {
		t.Fatalf("the sim answered 429 %d times: the client's limiter let a burst through", n)
	}
}

func TestContextCancellation(t *testing.T) {
	t.Parallel()
	b := setup(t, shopeesim.Config{}, func(c *shopee.ClientConfig) { c.RatePerSecond, c.Burst = 0.01, 1 })
	if _, err := b.client.Orders(context.Background(), b.shop, []string{"A"}); err != nil {
		t.Fatal(err)
	}
	// The next token is 100 s away: a deadline ends the wait at once, a
	// cancellation when it comes.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.client.Orders(ctx, b.shop, []string{"A"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	_, err := b.client.Orders(ctx, b.shop, []string{"A"})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %v, want Canceled promptly", err, time.Since(start))
	}
}

func TestCancellationDuringBackoff(t *testing.T) {
	t.Parallel()
	b := setup(t, shopeesim.Config{RatePerSecond: 0.001, Burst: 1}, func(c *shopee.ClientConfig) {
		c.BackoffMin, c.BackoffMax = time.Minute, time.Minute
	})
	_, _ = b.client.Orders(context.Background(), b.shop, []string{"A"}) // spends the sim's only token
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err := b.client.Orders(ctx, b.shop, []string{"A"})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, marketplace.ErrRateLimited) {
		t.Fatalf("err = %v, want Canceled carrying the 429 it was waiting out", err)
	}
}

func TestLostPushesServedUntilConfirmed(t *testing.T) {
	t.Parallel()
	b := setup(t, shopeesim.Config{}, nil)
	ctx := context.Background()
	var lost []sandbox.Push
	for i := range 103 {
		o := b.put(fmt.Sprintf("LP%03d", i), b.clock.Now(), "MUG")
		pushes, err := b.sim.Pushes(sandbox.Change{Kind: order.KindStatus, Order: o})
		if err != nil || len(pushes) != 1 {
			t.Fatalf("Pushes = %v, %v", pushes, err)
		}
		if err := b.sim.Lose(pushes[0]); err != nil {
			t.Fatal(err)
		}
		lost = append(lost, pushes[0])
	}
	page, err := b.client.LostPushes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Pushes) != 100 || !page.HasNextPage || page.LastMessageID == 0 {
		t.Fatalf("first page: %d pushes, next %v, last %d", len(page.Pushes), page.HasNextPage, page.LastMessageID)
	}
	ev, err := shopee.Parse(page.Pushes[0].Body(), b.clock.Now())
	if err != nil || ev.OrderID != "LP000" || ev.ShopID != shopID || ev.Kind != order.KindStatus || ev.PlatformStatus != "READY_TO_SHIP" {
		t.Fatalf("first lost push parses to %+v, %v", ev, err)
	}
	again, err := b.client.LostPushes(ctx)
	if err != nil || again.LastMessageID != page.LastMessageID {
		t.Fatalf("unconfirmed pushes not served again: %+v, %v", again, err)
	}
	if err := b.client.ConfirmLostPushes(ctx, page.LastMessageID); err != nil {
		t.Fatal(err)
	}
	rest, err := b.client.LostPushes(ctx)
	if err != nil || len(rest.Pushes) != 3 || rest.HasNextPage {
		t.Fatalf("after confirming: %+v, %v", rest, err)
	}
	ev, err = shopee.Parse(rest.Pushes[2].Body(), b.clock.Now())
	if err != nil || ev.OrderID != lost[102].OrderID {
		t.Fatalf("last lost push: %+v, %v", ev, err)
	}
	if err := b.client.ConfirmLostPushes(ctx, rest.LastMessageID); err != nil {
		t.Fatal(err)
	}
	if empty, err := b.client.LostPushes(ctx); err != nil || len(empty.Pushes) != 0 || empty.LastMessageID != 0 {
		t.Fatalf("after confirming all: %+v, %v", empty, err)
	}
}

// signedURL builds a request URL signed as Shopee wants it, for the
// sim-only tests that then tamper with it.
func signedURL(b *bundle, key, path string, ts int64, token, shop string, extra url.Values) url.Values {
	q := url.Values{"partner_id": {partnerID}, "timestamp": {strconv.FormatInt(ts, 10)}}
	for k, v := range extra {
		q[k] = v
	}
	if token != "" {
		q.Set("access_token", token)
		q.Set("shop_id", shop)
	}
	q.Set("sign", shopee.SignAPI(key, partnerID, path, ts, token, shop))
	return q
}

// get sends a GET to the sim and returns the status and the decoded
// envelope.
func get(t *testing.T, b *bundle, path string, q url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(b.srv.URL + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("answer is not JSON: %s", body)
	}
	return resp.StatusCode, m
}

func TestSimRefusesForgedAndTamperedRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, shopeesim.Config{}, nil)
	b.sale.AddShop(sandbox.Shop{Platform: order.Shopee, ShopID: "999", Region: "SG"})
	other := b.sale.IssueToken(order.Shopee, "999")
	b.put("T1", b.clock.Now(), "MUG")
	ts := b.clock.Now().Unix()
	tok := b.shop.Token.AccessToken
	detail := url.Values{"order_sn_list": {"T1"}}

	if status, m := get(t, b, shopee.PathOrderDetail, signedURL(b, partnerKey, shopee.PathOrderDetail, ts, tok, shopID, detail)); status != 200 || m["error"] != "" {
		t.Fatalf("a correct request was refused: %d %v", status, m)
	}
	type refusal struct {
		q      url.Values
		path   string
		status int
		code   string
	}
	good := func() url.Values { return signedURL(b, partnerKey, shopee.PathOrderDetail, ts, tok, shopID, detail) }
	tamper := func(k, v string) url.Values { q := good(); q.Set(k, v); return q }
	listQuery := url.Values{"time_range_field": {"update_time"}, "time_from": {"0"}, "time_to": {strconv.Itoa(15*86400 + 1)}, "page_size": {"10"}}
	lostWrongPartner := signedURL(b, partnerKey, shopee.PathLostPush, ts, "", "", nil)
	lostWrongPartner.Set("partner_id", "1")
	for name, c := range map[string]refusal{
		"wrong secret":            {signedURL(b, "wrong", shopee.PathOrderDetail, ts, tok, shopID, detail), shopee.PathOrderDetail, 403, "error_sign"},
		"tampered shop_id":        {tamper("shop_id", "999"), shopee.PathOrderDetail, 403, "error_sign"},
		"tampered timestamp":      {tamper("timestamp", strconv.FormatInt(ts+1, 10)), shopee.PathOrderDetail, 403, "error_sign"},
		"signed for another path": {signedURL(b, partnerKey, shopee.PathOrderList, ts, tok, shopID, detail), shopee.PathOrderDetail, 403, "error_sign"},
		"another shop's token":    {signedURL(b, partnerKey, shopee.PathOrderDetail, ts, other.AccessToken, shopID, detail), shopee.PathOrderDetail, 403, "invalid_acceess_token"},
		"stale timestamp":         {signedURL(b, partnerKey, shopee.PathOrderDetail, ts-301, tok, shopID, detail), shopee.PathOrderDetail, 400, "error_param"},
		"missing access token":    {signedURL(b, partnerKey, shopee.PathOrderDetail, ts, "", "", detail), shopee.PathOrderDetail, 400, "error_param"},
		"unknown path":            {signedURL(b, partnerKey, "/api/v2/order/nope", ts, tok, shopID, detail), "/api/v2/order/nope", 404, "error_not_found"},
		"too many order_sn":       {tamper("order_sn_list", strings.Repeat("A,", 50)+"A"), shopee.PathOrderDetail, 400, "error_param"},
		"window over 15 days":     {signedURL(b, partnerKey, shopee.PathOrderList, ts, tok, shopID, listQuery), shopee.PathOrderList, 400, "error_param"},
		"public API, bad sign":    {signedURL(b, "wrong", shopee.PathLostPush, ts, "", "", nil), shopee.PathLostPush, 403, "error_sign"},
		"wrong partner":           {lostWrongPartner, shopee.PathLostPush, 403, "error_auth"},
	} {
		status, m := get(t, b, c.path, c.q)
		if status != c.status || m["error"] != c.code || m["message"] == "" || m["request_id"] == "" {
			t.Errorf("%s: %d %v, want %d %s in Shopee's envelope", name, status, m, c.status, c.code)
		}
	}
}

func TestSimServesOnlyRequestedOptionalFields(t *testing.T) {
	t.Parallel()
	b := setup(t, shopeesim.Config{}, nil)
	b.put("F1", b.clock.Now(), "MUG")
	q := signedURL(b, partnerKey, shopee.PathOrderDetail, b.clock.Now().Unix(), b.shop.Token.AccessToken, shopID,
		url.Values{"order_sn_list": {"F1"}})
	_, m := get(t, b, shopee.PathOrderDetail, q)
	o := m["response"].(map[string]any)["order_list"].([]any)[0].(map[string]any)
	for _, f := range []string{"item_list", "recipient_address", "total_amount", "package_list"} {
		if _, ok := o[f]; ok {
			t.Errorf("%s served without being named in response_optional_fields", f)
		}
	}
	if o["order_sn"] != "F1" || o["order_status"] != "READY_TO_SHIP" {
		t.Fatalf("default fields missing: %v", o)
	}
}

func TestPushesParseAndVerify(t *testing.T) {
	t.Parallel()
	b := setup(t, shopeesim.Config{}, nil)
	o := b.put("P1", b.clock.Now(), "MUG")
	o.Status = "IN_CANCEL"
	verifier := shopee.NewVerifier(callbackURL, []byte(pushKey))
	for _, c := range []struct {
		change     sandbox.Change
		kind       order.Kind
		code       string
		status     order.Status
		dataFields []string
	}{
		{sandbox.Change{Kind: order.KindStatus, Order: o}, order.KindStatus, "3", order.StatusCancelRequested, []string{"ordersn", "status", "update_time"}},
		{sandbox.Change{Kind: order.KindCancellation, Order: o}, order.KindStatus, "3", order.StatusCancelRequested, []string{"status"}},
		{sandbox.Change{Kind: order.KindTracking, Order: o}, order.KindTracking, "4", "", []string{"forder_id", "package_number", "tracking_no"}},
		{sandbox.Change{Kind: order.KindDocument, Order: o}, order.KindDocument, "15", "", []string{"package_number", "status"}},
		{sandbox.Change{Kind: order.KindReturn, Order: o, Reverse: &sandbox.Reverse{ID: "RT1", Return: true, Status: "REQUESTED"}}, order.KindReturn, "29", "", []string{"return_sn", "status"}},
		{sandbox.Change{Kind: order.KindPackage, Order: o}, order.KindPackage, "30", "", []string{"package_number"}},
	} {
		pushes, err := b.sim.Pushes(c.change)
		if err != nil || len(pushes) != 1 {
			t.Fatalf("%s: %v, %v", c.change.Kind, pushes, err)
		}
		p := pushes[0]
		if p.Header != "Authorization" || p.Kind != c.kind || p.OrderID != "P1" || p.Platform != order.Shopee {
			t.Fatalf("%s: push %+v", c.change.Kind, p)
		}
		if err := verifier.Verify(p.Signature, p.Body); err != nil {
			t.Fatalf("%s: signature does not verify with the push key over the callback URL: %v", c.change.Kind, err)
		}
		if err := shopee.NewVerifier("https://other.example.com/hook", []byte(pushKey)).Verify(p.Signature, p.Body); err == nil {
			t.Fatalf("%s: signature does not cover the callback URL", c.change.Kind)
		}
		ev, err := shopee.Parse(p.Body, b.clock.Now())
		if err != nil {
			t.Fatalf("%s: Parse: %v\n%s", c.change.Kind, err, p.Body)
		}
		if ev.Kind != c.kind || ev.PushType != c.code || ev.OrderID != "P1" || ev.ShopID != shopID || ev.Status != c.status ||
			!strings.HasPrefix(ev.Key, "shopee:") {
			t.Fatalf("%s: event %+v", c.change.Kind, ev)
		}
		var env struct {
			MsgID string         `json:"msg_id"`
			Data  map[string]any `json:"data"`
		}
		if err := json.Unmarshal(p.Body, &env); err != nil || len(env.MsgID) != 32 {
			t.Fatalf("%s: envelope %s", c.change.Kind, p.Body)
		}
		for _, f := range c.dataFields {
			if _, ok := env.Data[f]; !ok {
				t.Fatalf("%s: data lacks %s: %s", c.change.Kind, f, p.Body)
			}
		}
		if c.kind == order.KindTracking {
			if _, ok := env.Data["update_time"]; ok {
				t.Fatalf("code 4 carries update_time: %s", p.Body)
			}
		}
	}
	if pushes, err := b.sim.Pushes(sandbox.Change{Kind: order.KindAddress, Order: o}); err != nil || len(pushes) != 0 {
		t.Fatalf("address change: %v, %v; Shopee sends no push for it", pushes, err)
	}
}

func TestPushesFallBackToPartnerKey(t *testing.T) {
	t.Parallel()
	b := setup(t, shopeesim.Config{}, nil)
	b.sale.SetApp(order.Shopee, sandbox.App{Key: partnerID, Secret: partnerKey})
	o := b.put("K1", b.clock.Now(), "MUG")
	pushes, err := b.sim.Pushes(sandbox.Change{Kind: order.KindStatus, Order: o})
	if err != nil {
		t.Fatal(err)
	}
	if err := shopee.NewVerifier(callbackURL, []byte(pushKey), []byte(partnerKey)).Verify(pushes[0].Signature, pushes[0].Body); err != nil {
		t.Fatalf("push without a push key is not signed with the partner key: %v", err)
	}
	if !slices.Contains([]string{"3"}, mustParse(t, pushes[0].Body).PushType) {
		t.Fatal("not a status push")
	}
}

func mustParse(t *testing.T, body []byte) order.Event {
	t.Helper()
	ev, err := shopee.Parse(body, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
