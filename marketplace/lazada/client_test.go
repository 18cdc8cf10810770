package lazada

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
)

var apiNow = time.Date(2026, 10, 16, 2, 0, 0, 0, time.UTC)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtureData is the data member of a fixture's envelope.
func fixtureData(t testing.TB, name string) []byte {
	t.Helper()
	env, ok, err := decodeEnvelope(fixture(t, name))
	if err != nil || !ok {
		t.Fatalf("%s: ok %v, %v", name, ok, err)
	}
	return env.Data
}

func TestSignAPIVector(t *testing.T) {
	t.Parallel()
	// marketplaces.md: secret 3412gyo124goi3124, base string
	// /order/getaccess_tokentest_tokenapp_key123456order_id16090sign_methodsha256timestamp1517820392000
	params := map[string]string{
		"timestamp": "1517820392000", "sign_method": "sha256", "order_id": "16090",
		"app_key": "123456", "access_token": "test_token",
	}
	const want = "37BBFEB12AB58B96376F8CE93F20B72901003B6C2DBF0B34EBF3DD245D1BB3B9"
	if got := SignAPI("3412gyo124goi3124", "/order/get", params, nil); got != want {
		t.Fatalf("SignAPI = %s, want %s", got, want)
	}
	params["sign"] = "anything"
	if got := SignAPI("3412gyo124goi3124", "/order/get", params, nil); got != want {
		t.Fatal("sign is part of the signed string")
	}
	if got := SignAPI("3412gyo124goi3124", "/order/get", params, []byte("{}")); got == want {
		t.Fatal("the body is not signed")
	}
	params["order_id"] = "16091"
	if got := SignAPI("3412gyo124goi3124", "/order/get", params, nil); got == want {
		t.Fatal("a changed parameter keeps the sign")
	}
}

// wantFixtureDetail is what api_order_get.json and api_order_items_get.json
// make.
func wantFixtureDetail() order.Detail {
	return order.Detail{
		Status:      "ready_to_ship", // one line canceled: the live lines' status
		UpdateTime:  time.Date(2026, 10, 16, 1, 2, 41, 0, time.UTC),
		CreateTime:  time.Date(2026, 10, 15, 10, 36, 5, 0, time.UTC),
		Currency:    "SGD",
		Total:       "63.5", // 22.50 + 22.50 + 15.00 + 3.50 shipping
		ShippingFee: "3.5",
		Items: []order.Item{
			{ItemID: "2118861023", SKU: "MUG-350-BLUE", Name: "Enamel mug 350 ml, blue", Quantity: 2,
				UnitPrice: "25", PaidPrice: "22.5", Status: "ready_to_ship"},
			{ItemID: "2118861999", SKU: "SPOON-TEA", Name: "Tea spoon", Quantity: 1,
				UnitPrice: "15", PaidPrice: "15", Status: "canceled"},
		},
		Buyer: order.Buyer{ID: "100112802006", Username: "Nguyen V."},
		Address: &order.Address{Name: "Nguyen V.", Phone: "65****67", Line: "318 Tanglin Road, #01-59, Phoenix Park",
			City: "Singapore", State: "Central", Postcode: "247979", Country: "Singapore"},
		Packages:  []order.Package{{ID: "FP0123456789", TrackingNo: "LXAD-2000123456", Carrier: "LEX SG"}},
		FetchedAt: apiNow,
	}
}

func TestBuildDetailFromFixtures(t *testing.T) {
	t.Parallel()
	h, err := decodeOrderHeader(fixtureData(t, "api_order_get.json"), "260422900198363")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := decodeItems(fixtureData(t, "api_order_items_get.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := buildDetail("260422900198363", h, rows, apiNow)
	if err != nil {
		t.Fatal(err)
	}
	if want := wantFixtureDetail(); !reflect.DeepEqual(d, want) {
		t.Fatalf("detail\n got %+v\nwant %+v", d, want)
	}
	if _, err := decodeOrderHeader(fixtureData(t, "api_order_get.json"), "1"); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("another order's header: %v", err)
	}
}

func TestDecodeMultiItemsFixture(t *testing.T) {
	t.Parallel()
	m, err := decodeMultiItems(fixtureData(t, "api_orders_items_get.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || len(m["300034416"]) != 1 || len(m["300034500"]) != 2 {
		t.Fatalf("rows = %+v", m)
	}
	d, err := buildDetail("300034500", orderHeader{ShippingFee: flexAmount{"0.00"}}, m["300034500"], apiNow)
	if err != nil {
		t.Fatal(err)
	}
	want := []order.Item{{SKU: "B-1", Name: "B", Quantity: 2, UnitPrice: "5", PaidPrice: "4.5", Status: "pending"}}
	if !reflect.DeepEqual(d.Items, want) || d.Total != "9" || d.Currency != "MYR" || d.Status != "pending" || d.Packages != nil {
		t.Fatalf("detail = %+v", d)
	}
	if d.Address != nil {
		t.Fatalf("address from an empty header: %+v", d.Address)
	}
}

func TestDecodeListFixture(t *testing.T) {
	t.Parallel()
	refs, total, err := decodeList(fixtureData(t, "api_orders_get.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []orderRef{
		{id: "1895464", status: "shipped", updated: time.Date(2026, 2, 10, 1, 0, 1, 0, time.UTC)},
		{id: "1895470", status: "unpaid", updated: time.Date(2026, 2, 10, 1, 0, 5, 0, time.UTC)},
	}
	if total != 7 || !reflect.DeepEqual(refs, want) {
		t.Fatalf("refs = %+v, total %d", refs, total)
	}
}

func TestDecodeTokenFixture(t *testing.T) {
	t.Parallel()
	g, err := decodeToken(fixture(t, "api_token_create.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := grant{
		access: "50000601c30atpedfgu3LVvik87Ixlsvle3mSoB7701ceb156fPunYZ43GBg", refresh: "500016000300bwa2WteaQyfwBMnPxurcA0mXGhQdTt18356663CfcDTYpWoi",
		accessTTL: 30 * 24 * time.Hour, refreshTTL: 180 * 24 * time.Hour, country: "my",
		sellers: []seller{{country: "sg", sellerID: "100200"}, {country: "my", sellerID: "100300"}},
	}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("grant = %+v", g)
	}
	for _, body := range []string{
		`{"code":"0","access_token":"a","refresh_token":"r"}`,
		`{"code":"0","access_token":"a","refresh_token":"r","expires_in":"soon"}`,
		`{"code":"0","access_token":"","refresh_token":"r","expires_in":10}`,
		`{"code":"0","access_token":"a","refresh_token":"r","expires_in":10,"country_user_info":[{"seller_id":"1:2"}]}`,
	} {
		if _, err := decodeToken([]byte(body)); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func TestAmounts(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]order.Amount{
		`"20.00"`: "20", `"1,234.50"`: "1234.5", `"12,345,678"`: "12345678", `12.5`: "12.5", `0`: "0",
		`""`: "", `null`: "", `"-3.10"`: "-3.1",
	} {
		var a flexAmount
		if err := a.UnmarshalJSON([]byte(raw)); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		got, err := a.amount("x")
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{`"1,23"`, `"12,34.5"`, `"1e2"`, `1e2`, `"abc"`, `",123"`, `"1,234,5"`, `true`} {
		var a flexAmount
		if err := a.UnmarshalJSON([]byte(raw)); err != nil {
			continue
		}
		if got, err := a.amount("x"); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s accepted as %q", raw, got)
		}
	}
}

// TestOrderStatus pins the one order-level status rule (shared by the
// client, the sandbox generator and lazadasim) on every edge case.
func TestOrderStatus(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"no lines", nil, ""},
		{"only empty statuses", []string{"", ""}, ""},
		{"one line", []string{"shipped"}, "shipped"},
		{"same status", []string{"delivered", "delivered"}, "delivered"},
		{"least advanced live line", []string{"delivered", "shipped", "delivered"}, "shipped"},
		{"unpaid before pending", []string{"pending", "unpaid"}, "unpaid"},
		{"packing ties keep the first", []string{"packed", "topack", "repacked"}, "packed"},
		{"ready_to_ship ties toship", []string{"ready_to_ship", "toship"}, "ready_to_ship"},
		{"packed before ready_to_ship", []string{"ready_to_ship", "packed", "canceled"}, "packed"},
		{"failed_delivery before delivered", []string{"delivered", "failed_delivery"}, "failed_delivery"},
		{"lost_by_3pl before delivered", []string{"delivered", "lost_by_3pl"}, "lost_by_3pl"},
		{"damaged_by_3pl ties failed_delivery", []string{"damaged_by_3pl", "failed_delivery"}, "damaged_by_3pl"},
		{"delivered before shipped_back", []string{"shipped_back", "delivered"}, "delivered"},
		{"canceled line ignored", []string{"canceled", "delivered"}, "delivered"},
		{"returned line ignored", []string{"returned", "delivered"}, "delivered"},
		{"canceled and returned lines ignored", []string{"returned", "canceled", "shipped"}, "shipped"},
		{"all canceled", []string{"canceled", "canceled"}, "canceled"},
		{"all returned", []string{"returned", "returned"}, "returned"},
		{"returned wins over canceled", []string{"canceled", "returned"}, "returned"},
		{"British spelling", []string{"cancelled"}, "canceled"},
		{"unknown after known", []string{"somethingnew", "shipped"}, "shipped"},
		{"unknown after delivered", []string{"delivered", "somethingnew"}, "delivered"},
		{"only unknown", []string{"somethingnew", "other"}, "somethingnew"},
		{"unknown beats canceled", []string{"canceled", "somethingnew"}, "somethingnew"},
		{"case ignored, lower case out", []string{"Ready_To_Ship", "SHIPPED"}, "ready_to_ship"},
		{"canceled in any case", []string{"canceled", "CANCELED"}, "canceled"},
		{"empty status skipped", []string{"", "pending"}, "pending"},
	} {
		if got := OrderStatus(c.lines); got != c.want {
			t.Errorf("%s: OrderStatus(%q) = %q, want %q", c.name, c.lines, got, c.want)
		}
	}
}

func TestBuildDetailRefusesBadRows(t *testing.T) {
	t.Parallel()
	row := `{"order_item_id":1,"order_id":"5","sku":"A","paid_price":"1.00","currency":"SGD","status":"pending"}`
	for name, rows := range map[string]string{
		"other order":    `[{"order_item_id":1,"order_id":"6","sku":"A","paid_price":"1.00","status":"pending"}]`,
		"two currencies": `[` + row + `,{"order_item_id":2,"order_id":"5","sku":"A","paid_price":"1.00","currency":"MYR","status":"pending"}]`,
		"bad price":      `[{"order_item_id":1,"order_id":"5","sku":"A","paid_price":"1.0.0","status":"pending"}]`,
		"no paid price":  `[{"order_item_id":1,"order_id":"5","sku":"A","status":"pending"}]`,
		"control char":   `[{"order_item_id":1,"order_id":"5","sku":"A\u0001","paid_price":"1","status":"pending"}]`,
		"object id":      `[{"order_item_id":{},"order_id":"5","sku":"A","paid_price":"1","status":"pending"}]`,
	} {
		r, err := decodeItems([]byte(rows))
		if err == nil {
			_, err = buildDetail("5", orderHeader{}, r, apiNow)
		}
		if !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := buildDetail("5", orderHeader{CreatedAt: "yesterday"}, nil, apiNow); !errors.Is(err, ErrBadResponse) {
		t.Errorf("bad date: %v", err)
	}
}

// replay serves the fixtures by API path and records the queries.
type replay struct {
	calls   atomic.Int64
	queries chan url.Values
	answer  func(path string, q url.Values) (int, string)
}

func (r *replay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.calls.Add(1)
	if r.queries != nil {
		select {
		case r.queries <- req.URL.Query():
		default:
		}
	}
	status, body := r.answer(strings.TrimPrefix(req.URL.Path, "/rest"), req.URL.Query())
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func testClient(t *testing.T, h http.Handler, edit func(*ClientConfig)) (*Client, marketplace.Shop) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := ClientConfig{AppKey: "123456", AppSecret: "s3cret", BaseURL: srv.URL + "/rest", RatePerSecond: -1,
		BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond, Now: func() time.Time { return apiNow }}
	if edit != nil {
		edit(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	shop := marketplace.Shop{Platform: order.Lazada, ShopID: "1000", Region: "sg",
		Token: marketplace.Token{AccessToken: "at-secret-token", RefreshToken: "rt-secret-token"}}
	return c, shop
}

func TestOrdersFromRecordedShapes(t *testing.T) {
	t.Parallel()
	r := &replay{answer: func(path string, q url.Values) (int, string) {
		switch {
		case path == PathOrder && q.Get("order_id") == "260422900198363":
			return 200, string(fixture(t, "api_order_get.json"))
		case path == PathOrder:
			return 200, `{"code":"16","type":"ISV","message":"E016: \"` + q.Get("order_id") + `\" Invalid Order ID","request_id":"r1"}`
		case path == PathOrdersItems && q.Get("order_ids") == "[260422900198363]":
			return 200, `{"code":"0","data":[{"order_id":260422900198363,"order_items":` +
				string(fixtureData(t, "api_order_items_get.json")) + `}],"request_id":"r2"}`
		}
		return 200, `{"code":"InvalidApiPath","type":"SYSTEM","message":"?","request_id":"r3"}`
	}}
	c, shop := testClient(t, r, nil)
	got, err := c.Orders(context.Background(), shop, []string{"260422900198363", "42"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !reflect.DeepEqual(got["260422900198363"], wantFixtureDetail()) {
		t.Fatalf("Orders = %+v", got)
	}
	if _, err := c.Orders(context.Background(), shop, []string{"12a"}); err == nil {
		t.Fatal("a non-numeric order id was sent")
	}
}

func TestOrdersFallsBackToOneOrderItems(t *testing.T) {
	t.Parallel()
	r := &replay{answer: func(path string, q url.Values) (int, string) {
		switch path {
		case PathOrder:
			return 200, string(fixture(t, "api_order_get.json"))
		case PathOrdersItems:
			return 200, `{"code":"37","type":"ISV","message":"E037: One or more order id in the list are incorrect","request_id":"r"}`
		case PathOrderItems:
			return 200, string(fixture(t, "api_order_items_get.json"))
		}
		return 404, "not found"
	}}
	c, shop := testClient(t, r, nil)
	got, err := c.Orders(context.Background(), shop, []string{"260422900198363"})
	if err != nil || !reflect.DeepEqual(got["260422900198363"], wantFixtureDetail()) {
		t.Fatalf("Orders = %+v, %v", got, err)
	}
}

func TestRequestsAreSignedAndWindowed(t *testing.T) {
	t.Parallel()
	r := &replay{queries: make(chan url.Values, 1), answer: func(path string, q url.Values) (int, string) {
		return 200, string(fixture(t, "api_orders_get.json"))
	}}
	c, shop := testClient(t, r, func(c *ClientConfig) { c.PageSize = 2 })
	from := time.Date(2026, 2, 10, 1, 0, 0, 0, time.UTC)
	page, err := c.Updated(context.Background(), shop, from, from.Add(time.Hour), "4")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Orders) != 2 || page.Cursor != "6" {
		t.Fatalf("page = %+v", page)
	}
	q := <-r.queries
	params := map[string]string{}
	for k, v := range q {
		params[k] = v[0]
	}
	want := map[string]string{
		"app_key": "123456", "sign_method": "sha256", "access_token": "at-secret-token",
		"timestamp": "1792116000000", "update_after": "2026-02-10T01:00:00+00:00",
		"update_before": "2026-02-10T01:59:59+00:00", "sort_by": "updated_at", "sort_direction": "ASC",
		"offset": "4", "limit": "2",
	}
	sign := params["sign"]
	delete(params, "sign")
	if !reflect.DeepEqual(params, want) {
		t.Fatalf("params = %v", params)
	}
	if sign != SignAPI("s3cret", PathOrders, params, nil) {
		t.Fatalf("sign %s", sign)
	}

	// countTotal 7: offset 6 + 2 orders is the end.
	page, err = c.Updated(context.Background(), shop, from, from.Add(time.Hour), "6")
	if err != nil || page.Cursor != "" {
		t.Fatalf("last page: %+v, %v", page, err)
	}
	for _, bad := range []string{"-1", "x", "99999999999"} {
		if _, err := c.Updated(context.Background(), shop, from, from.Add(time.Hour), bad); err == nil {
			t.Errorf("cursor %q accepted", bad)
		}
	}
	if _, err := c.Updated(context.Background(), shop, from, from, ""); err == nil {
		t.Error("empty window accepted")
	}
}

func TestErrorKinds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status int
		body   string
		code   string
		kind   error
	}{
		{200, string(fixture(t, "api_error_token.json")), "IllegalAccessToken", marketplace.ErrAuth},
		{200, `{"code":"IllegalRefreshToken","type":"ISV","message":"m","request_id":"r"}`, "IllegalRefreshToken", marketplace.ErrAuth},
		{200, `{"code":"MISSING_PARAMETER","type":"ISV","message":"missing required parameter: access_token","request_id":"r"}`, "MISSING_PARAMETER", marketplace.ErrAuth},
		{200, `{"code":"IncompleteSignature","type":"ISV","message":"m","request_id":"r"}`, "IncompleteSignature", nil},
		{200, `{"code":"InvalidTimestamp","type":"ISV","message":"m","request_id":"r"}`, "InvalidTimestamp", nil},
		{200, `{"code":"ApiCallLimit","type":"ISP","message":"m","request_id":"r"}`, "ApiCallLimit", marketplace.ErrRateLimited},
		{200, `{"code":6,"type":"ISP","message":"E006: System Error","request_id":"r"}`, "6", marketplace.ErrTemporary},
		{503, `{"code":"ServiceUnavailable","type":"SYSTEM","message":"m","request_id":"r"}`, "ServiceUnavailable", marketplace.ErrTemporary},
		{502, `<html>bad gateway</html>`, "502", marketplace.ErrTemporary},
		{429, ``, "429", marketplace.ErrRateLimited},
		{400, `{"code":"17","type":"ISV","message":"E017: Invalid Date Format","request_id":"r"}`, "17", nil},
	} {
		r := &replay{answer: func(string, url.Values) (int, string) { return c.status, c.body }}
		cl, shop := testClient(t, r, func(cfg *ClientConfig) { cfg.MaxAttempts = 2 })
		_, err := cl.Updated(context.Background(), shop, apiNow.Add(-time.Hour), apiNow, "")
		var ae *marketplace.APIError
		if !errors.As(err, &ae) || ae.Code != c.code || ae.Kind != c.kind || ae.Status != c.status {
			t.Errorf("%d %s: %v (%+v)", c.status, c.body, err, ae)
			continue
		}
		retried := c.kind == marketplace.ErrRateLimited || c.kind == marketplace.ErrTemporary
		if n := r.calls.Load(); (n == 2) != retried {
			t.Errorf("%s: %d attempts", c.code, n)
		}
	}
	// A 200 that is not Lazada's envelope is a bad response, not retried.
	r := &replay{answer: func(string, url.Values) (int, string) { return 200, `<html>` }}
	cl, shop := testClient(t, r, nil)
	if _, err := cl.Updated(context.Background(), shop, apiNow.Add(-time.Hour), apiNow, ""); !errors.Is(err, ErrBadResponse) || r.calls.Load() != 1 {
		t.Errorf("non-JSON 200: %v after %d calls", err, r.calls.Load())
	}
}

func TestRetries429And5xxThenSucceeds(t *testing.T) {
	t.Parallel()
	r := &replay{}
	r.answer = func(string, url.Values) (int, string) {
		switch r.calls.Load() {
		case 1:
			return 429, `Too Many Requests`
		case 2:
			return 503, `{"code":"ServiceUnavailable","type":"SYSTEM","message":"busy","request_id":"r"}`
		}
		return 200, string(fixture(t, "api_token_create.json"))
	}
	c, shop := testClient(t, r, nil)
	tok, err := c.Refresh(context.Background(), shop)
	if err != nil {
		t.Fatal(err)
	}
	if r.calls.Load() != 3 || !tok.AccessExpiresAt.Equal(apiNow.Add(30*24*time.Hour)) {
		t.Fatalf("%d calls, token %v", r.calls.Load(), tok)
	}
}

func TestExchangeCodePicksSeller(t *testing.T) {
	t.Parallel()
	r := &replay{answer: func(path string, q url.Values) (int, string) {
		if path != PathTokenCreate || q.Get("code") != "0_1234_abc" || q.Get("access_token") != "" {
			return 200, `{"code":"InvalidCode","type":"ISV","message":"m","request_id":"r"}`
		}
		return 200, string(fixture(t, "api_token_create.json"))
	}}
	c, _ := testClient(t, r, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		in       marketplace.Shop
		id, reg  string
		rejected bool
	}{
		{marketplace.Shop{}, "100300", "my", false}, // the token's country
		{marketplace.Shop{Region: "sg"}, "100200", "sg", false},
		{marketplace.Shop{ShopID: "100200"}, "100200", "sg", false},
		{marketplace.Shop{ShopID: "555"}, "", "", true},
		{marketplace.Shop{Region: "vn"}, "", "", true},
		{marketplace.Shop{ShopID: "100300", Region: "my"}, "100300", "my", false},
	} {
		got, err := c.ExchangeCode(ctx, "0_1234_abc", tc.in)
		if tc.rejected {
			if err == nil {
				t.Errorf("%+v accepted", tc.in)
			}
			continue
		}
		if err != nil || got.ShopID != tc.id || got.Region != tc.reg || got.Platform != order.Lazada || got.Token.AccessToken == "" {
			t.Errorf("%+v: %+v, %v", tc.in, got, err)
		}
	}
	if _, err := c.ExchangeCode(ctx, "", marketplace.Shop{}); err == nil {
		t.Error("empty code accepted")
	}
}

// hostRecorder answers every request with an error and records the URL.
type hostRecorder struct{ urls chan string }

func (h hostRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.urls <- r.URL.Scheme + "://" + r.URL.Host + r.URL.Path
	return nil, errors.New("no network in tests")
}

func TestHostsAndRedactedTransportErrors(t *testing.T) {
	t.Parallel()
	h := hostRecorder{urls: make(chan string, 10)}
	c, err := NewClient(ClientConfig{AppKey: "1", AppSecret: "s", HTTP: &http.Client{Transport: h}, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	shop := marketplace.Shop{ShopID: "9", Region: "th", Token: marketplace.Token{AccessToken: "AT-SECRET", RefreshToken: "RT-SECRET"}}
	_, err = c.Orders(context.Background(), shop, []string{"1"})
	if got := <-h.urls; got != "https://api.lazada.co.th/rest/order/get" {
		t.Fatalf("order URL %s", got)
	}
	if !errors.Is(err, marketplace.ErrTemporary) || strings.Contains(err.Error(), "AT-SECRET") || !strings.Contains(err.Error(), "&sign=REDACTED&") {
		t.Fatalf("transport error: %v", err)
	}
	_, err = c.Refresh(context.Background(), shop)
	if got := <-h.urls; got != "https://auth.lazada.com/rest/auth/token/refresh" {
		t.Fatalf("refresh URL %s", got)
	}
	if strings.Contains(err.Error(), "RT-SECRET") {
		t.Fatalf("transport error: %v", err)
	}
	if _, err := c.Orders(context.Background(), marketplace.Shop{ShopID: "9"}, []string{"1"}); err == nil {
		t.Fatal("a shop without region and no default was served")
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := ClientConfig{AppKey: "1", AppSecret: "s"}
	for name, edit := range map[string]func(*ClientConfig){
		"no key":      func(c *ClientConfig) { c.AppKey = "" },
		"no secret":   func(c *ClientConfig) { c.AppSecret = "" },
		"region":      func(c *ClientConfig) { c.DefaultRegion = "us" },
		"page size":   func(c *ClientConfig) { c.PageSize = 101 },
		"base URL":    func(c *ClientConfig) { c.BaseURL = "ftp://x" },
		"auth URL":    func(c *ClientConfig) { c.AuthBaseURL = "https://x/?a=1" },
		"relative":    func(c *ClientConfig) { c.BaseURL = "/rest" },
		"negative pg": func(c *ClientConfig) { c.PageSize = -1 },
	} {
		cfg := good
		edit(&cfg)
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c, err := NewClient(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.AuthBaseURL != AuthHost || c.cfg.PageSize != MaxPageSize || c.Platform() != order.Lazada {
		t.Fatalf("defaults: %+v", c.cfg)
	}
}
