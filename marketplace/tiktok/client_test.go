package tiktok

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtureData returns the data of a recorded successful answer.
func fixtureData(t testing.TB, name string) []byte {
	t.Helper()
	env, err := checkAnswer(200, fixture(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return env.Data
}

// TestSignAPIVector pins SignAPI to the example of TikTok's signing guide
// (marketplaces.md, "TikTok API (doc)").
func TestSignAPIVector(t *testing.T) {
	t.Parallel()
	q := url.Values{"app_key": {"29a39d"}, "timestamp": {"1623812664"}}
	got := SignAPI([]byte("e59af819cc"), "/authorization/202309/shops", q, nil)
	if want := "b596b73e0cc6de07ac26f036364178ab16b0a907af13d43f0a0cd2345f582dc8"; got != want {
		t.Fatalf("SignAPI = %s, want %s", got, want)
	}
	// sign and access_token are not signed; the order of the query is not
	// either (the keys are sorted).
	q2 := url.Values{"timestamp": {"1623812664"}, "sign": {"x"}, "access_token": {"t"}, "app_key": {"29a39d"}}
	if SignAPI([]byte("e59af819cc"), "/authorization/202309/shops", q2, nil) != got {
		t.Fatal("sign or access_token changed the sign")
	}
}

func TestSignAPICoversEverythingElse(t *testing.T) {
	t.Parallel()
	secret := []byte("e59af819cc")
	q := url.Values{"app_key": {"29a39d"}, "timestamp": {"1623812664"}, "shop_cipher": {"ROW_x"}}
	body := []byte(`{"update_time_ge":1,"update_time_lt":2}`)
	base := SignAPI(secret, PathOrderSearch, q, body)
	variants := map[string]string{
		"secret": SignAPI([]byte("e59af819cd"), PathOrderSearch, q, body),
		"path":   SignAPI(secret, PathOrderDetail, q, body),
		"body":   SignAPI(secret, PathOrderSearch, q, []byte(`{"update_time_ge":1,"update_time_lt":3}`)),
		"param":  SignAPI(secret, PathOrderSearch, url.Values{"app_key": {"29a39d"}, "timestamp": {"1623812664"}, "shop_cipher": {"ROW_y"}}, body),
		"nobody": SignAPI(secret, PathOrderSearch, q, nil),
	}
	for name, s := range variants {
		if s == base {
			t.Errorf("changing the %s did not change the sign", name)
		}
	}
}

func TestDecodeToken(t *testing.T) {
	t.Parallel()
	tok, err := decodeToken(fixtureData(t, "api_token_get.json"))
	if err != nil {
		t.Fatal(err)
	}
	// access_token_expire_in is a Unix time, not a number of seconds.
	want := marketplace.Token{AccessToken: "ROW_Rq8yQwAAAAB1fKe3fake-access", RefreshToken: "ROW_hAyQwAAAAA8fake-refresh",
		AccessExpiresAt: time.Unix(1722342011, 0).UTC(), RefreshExpiresAt: time.Unix(4841467787, 0).UTC()}
	if tok != want {
		t.Fatalf("token = %+v, want %+v", tok, want)
	}
	for _, bad := range []string{
		`{"access_token":"a","access_token_expire_in":1722342011}`,
		`{"access_token":"a b","refresh_token":"r","access_token_expire_in":1722342011}`,
		`{"access_token":"a","refresh_token":"r"}`,
		`{"access_token":"a","refresh_token":"r","access_token_expire_in":"soon"}`,
		`[]`,
	} {
		if _, err := decodeToken([]byte(bad)); !errors.Is(err, ErrBadResponse) {
			t.Errorf("decodeToken(%s) = %v, want ErrBadResponse", bad, err)
		}
	}
}

func TestDecodeShops(t *testing.T) {
	t.Parallel()
	shops, err := decodeShops(fixtureData(t, "api_shops.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []authorizedShop{
		{ID: "7000714532876273420", Cipher: "GCP_XF90igAAAABh00qsWgtvOiGFNqyubMt3", Region: "GB"},
		{ID: "7494049642642441621", Cipher: "ROW_8Xq1rAAAAAAdo5t5GmYdcj6yB6Kk", Region: "ID"},
	}
	if !reflect.DeepEqual(shops, want) {
		t.Fatalf("shops = %+v, want %+v", shops, want)
	}
}

func TestDecodeDetails(t *testing.T) {
	t.Parallel()
	fetched := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	details, ids, err := decodeDetails(fixtureData(t, "api_order_detail.json"), fetched)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"576461413038785752", "576461413038785753"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("ids = %v, want %v", ids, want)
	}
	want := order.Detail{
		Status:      "AWAITING_COLLECTION",
		UpdateTime:  time.Unix(1619621451, 0).UTC(),
		CreateTime:  time.Unix(1619611561, 0).UTC(),
		Currency:    "USD",
		Total:       "28.04",
		ShippingFee: "4.99",
		Items: []order.Item{
			// Two line items of one SKU are one item of quantity 2.
			{ItemID: "1729582718312380123", SKU: "red_iphone_256", Name: "Women's Winter Crochet Clothes", Quantity: 2, UnitPrice: "12.5", PaidPrice: "10"},
			// No seller_sku: the sku_id stands in.
			{ItemID: "1729582718312380999", SKU: "2729382476852921999", Name: "Phone case", Quantity: 1, UnitPrice: "3.05", PaidPrice: "3.05"},
		},
		Buyer: order.Buyer{ID: "7021436810468230477", Username: "v2f8x@scs.tiktokw.us"},
		Address: &order.Address{Name: "Ja***n", Phone: "(+1)213*****34", Line: "Unit 2, 1199 Elm Street",
			City: "Los Angeles", State: "California", Postcode: "90012", Country: "US"},
		Packages: []order.Package{
			{ID: "1153132168123859123", TrackingNo: "JX12345", Carrier: "TT Virtual express", Status: "PROCESSING"},
			{ID: "1153132168123859124", TrackingNo: "JT99887766", Carrier: "J&T Express", Status: "PROCESSING"},
		},
		FetchedAt: fetched,
	}
	if !reflect.DeepEqual(details[0], want) {
		t.Fatalf("detail =\n%+v\nwant\n%+v", details[0], want)
	}
	unpaid := details[1]
	if unpaid.Address != nil {
		t.Errorf("an UNPAID order has an address: %+v", unpaid.Address)
	}
	if unpaid.Total != "135000" || unpaid.Currency != "IDR" || unpaid.ShippingFee != "0" || len(unpaid.Packages) != 0 {
		t.Errorf("unpaid order = %+v", unpaid)
	}
}

func TestDecodeDetailsAmountsAreExact(t *testing.T) {
	t.Parallel()
	data := `{"orders":[{"id":"1","status":"UNPAID","payment":{"currency":"USD","total_amount":0.1,"shipping_fee":"123456789012345678.10"},
		"line_items":[{"sku_id":"9","original_price":"0.30","sale_price":0.2}]}]}`
	d, _, err := decodeDetails([]byte(data), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if d[0].Total != "0.1" || d[0].ShippingFee != "123456789012345678.1" || d[0].Items[0].PaidPrice != "0.2" || d[0].Items[0].UnitPrice != "0.3" {
		t.Fatalf("amounts = %q %q %+v", d[0].Total, d[0].ShippingFee, d[0].Items[0])
	}
	for _, bad := range []string{
		`{"orders":[{"id":"1","payment":{"total_amount":"1e2"}}]}`,
		`{"orders":[{"id":"1","payment":{"total_amount":true}}]}`,
		`{"orders":[{"id":"1","line_items":[{"sale_price":"ten"}]}]}`,
		`{"orders":[{"status":"UNPAID"}]}`,
		`{"orders":[{"id":"1","update_time":"yesterday"}]}`,
		`{"orders":[{"id":"a\u0000b"}]}`,
		`{"orders":{}}`,
	} {
		if _, _, err := decodeDetails([]byte(bad), time.Time{}); !errors.Is(err, ErrBadResponse) {
			t.Errorf("decodeDetails(%s) = %v, want ErrBadResponse", bad, err)
		}
	}
}

func TestDecodePage(t *testing.T) {
	t.Parallel()
	page, err := decodePage(fixtureData(t, "api_order_search.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := marketplace.ListPage{
		Orders: []marketplace.OrderRef{
			{OrderID: "576461413038785752", Status: "AWAITING_COLLECTION", UpdateTime: time.Unix(1619621451, 0).UTC()},
			{OrderID: "576461413038785753", Status: "CANCELLED", UpdateTime: time.Unix(1619621460, 0).UTC()},
		},
		Cursor: "aDU2dEJxOEJYQ2FlQmtJRkFlVVFrZ0dVaGZtSWdEaU1q",
	}
	if !reflect.DeepEqual(page, want) {
		t.Fatalf("page = %+v, want %+v", page, want)
	}
}

func TestCheckAnswer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status int
		body   string
		code   string
		kind   error
	}{
		{"sign", 401, string(fixture(t, "api_error_sign.json")), "106001", nil},
		{"expired token", 401, string(fixture(t, "api_error_expired.json")), "105002", marketplace.ErrAuth},
		{"expired token, HTTP 200", 200, string(fixture(t, "api_error_expired.json")), "105002", marketplace.ErrAuth},
		{"rate", 429, string(fixture(t, "api_error_rate.json")), "36009002", marketplace.ErrRateLimited},
		{"rate, HTTP 200", 200, string(fixture(t, "api_error_rate.json")), "36009002", marketplace.ErrRateLimited},
		{"internal", 200, `{"code":36009003,"message":"Internal error."}`, "36009003", marketplace.ErrTemporary},
		{"token header", 401, `{"code":36009004,"message":"Invalid credentials. The x-tts-access-token header is invalid."}`, "36009004", marketplace.ErrAuth},
		{"timestamp", 401, `{"code":36009004,"message":"Invalid timestamp."}`, "36009004", nil},
		{"refresh token expired", 200, `{"code":36004001,"message":"rt has expired"}`, "36004001", marketplace.ErrAuth},
		{"scope", 200, `{"code":105005,"message":"you should apply auth pkg for this api"}`, "105005", marketplace.ErrAuth},
		{"unknown code, 5xx", 503, `{"code":1,"message":"x"}`, "1", marketplace.ErrTemporary},
		{"code as string", 400, `{"code":"12052024","message":"Category is not final category"}`, "12052024", nil},
		{"gateway page", 502, `<html>Bad Gateway</html>`, "", marketplace.ErrTemporary},
		{"empty 429", 429, ``, "", marketplace.ErrRateLimited},
		{"code 0 with 500", 500, `{"code":0}`, "0", marketplace.ErrTemporary},
	}
	for _, c := range cases {
		_, err := checkAnswer(c.status, []byte(c.body))
		var ae *marketplace.APIError
		if !errors.As(err, &ae) {
			t.Errorf("%s: err = %v, want *APIError", c.name, err)
			continue
		}
		if ae.Code != c.code || ae.Kind != c.kind || ae.Status != c.status || ae.Platform != order.TikTok {
			t.Errorf("%s: = %+v, want code %s kind %v", c.name, ae, c.code, c.kind)
		}
	}
	if _, err := checkAnswer(200, []byte(`not json`)); !errors.Is(err, ErrBadResponse) {
		t.Errorf("200 with a non-JSON body: %v, want ErrBadResponse", err)
	}
	env, err := checkAnswer(200, fixture(t, "api_shops.json"))
	if err != nil || !strings.Contains(string(env.Data), "shops") {
		t.Errorf("success: %v, %s", err, env.Data)
	}
	_, err = checkAnswer(401, fixture(t, "api_error_sign.json"))
	var ae *marketplace.APIError
	if errors.As(err, &ae); ae.RequestID != "202606190151522272D4695E9B9043B79E" || !strings.Contains(ae.Message, "sign") {
		t.Errorf("sign error lost its request id or message: %+v", ae)
	}
}

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]ClientConfig{
		"no key":     {AppSecret: "s"},
		"no secret":  {AppKey: "k"},
		"bad base":   {AppKey: "k", AppSecret: "s", BaseURL: "ftp://x"},
		"query base": {AppKey: "k", AppSecret: "s", AuthBaseURL: "https://x/?a=b"},
	} {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("%s: NewClient accepted %+v", name, cfg)
		} else if strings.Contains(err.Error(), "s\"") {
			t.Errorf("%s: error shows the secret: %v", name, err)
		}
	}
	c, err := NewClient(ClientConfig{AppKey: "k", AppSecret: "s"})
	if err != nil || c.cfg.BaseURL != DefaultBaseURL || c.cfg.AuthBaseURL != DefaultAuthBaseURL || c.cfg.RatePerSecond != DefaultRatePerSecond {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
}

// TestTokenErrorsHideSecrets: a token request carries the app secret and
// the code in its URL, which transport errors quote.
func TestTokenErrorsHideSecrets(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // connection refused from now on
	const secret, code, refresh = "sup3r-s3cret/+", "auth-code-123", "refresh-456"
	c, err := NewClient(ClientConfig{AppKey: "k", AppSecret: secret, BaseURL: base, AuthBaseURL: base,
		MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ExchangeCode(context.Background(), code, marketplace.Shop{ShopID: "1"})
	if err == nil || !errors.Is(err, marketplace.ErrTemporary) {
		t.Fatalf("err = %v, want ErrTemporary", err)
	}
	_, err2 := c.Refresh(context.Background(), marketplace.Shop{Token: marketplace.Token{RefreshToken: refresh}})
	for _, e := range []error{err, err2} {
		msg := e.Error()
		for _, s := range []string{secret, url.QueryEscape(secret), code, refresh} {
			if strings.Contains(msg, s) {
				t.Errorf("error %q shows a secret", msg)
			}
		}
	}
}

// TestOrdersBatchesAndValidates: ids are sent 50 at a time, deduplicated;
// an id with a comma is refused before anything is sent.
func TestOrdersBatchesAndValidates(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var batches []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		batches = append(batches, len(strings.Split(r.URL.Query().Get("ids"), ",")))
		mu.Unlock()
		if r.Header.Get(HeaderAccessToken) != "tok" || r.URL.Query().Get("shop_cipher") != "cipher" || r.URL.Query().Get("sign") == "" {
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"code":105001,"message":"bad"}`))
			return
		}
		_, _ = w.Write([]byte(`{"code":0,"message":"Success","data":{"orders":[{"id":"3","status":"UNPAID"},{"id":"not-asked","status":"UNPAID"}]}}`))
	}))
	defer srv.Close()
	c, err := NewClient(ClientConfig{AppKey: "k", AppSecret: "s", BaseURL: srv.URL, AuthBaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	shop := marketplace.Shop{ShopID: "1", Cipher: "cipher", Token: marketplace.Token{AccessToken: "tok"}}
	ids := make([]string, 0, 121)
	for i := range 120 {
		ids = append(ids, strings.Repeat("1", 1+i%60)+"x"[:i/60])
	}
	ids = append(ids, ids[0]) // a duplicate
	got, err := c.Orders(context.Background(), shop, append([]string{"3"}, ids...))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["3"]; !ok || len(got) != 1 {
		t.Errorf("result = %v, want only order 3", got)
	}
	if want := []int{50, 50, 21}; !reflect.DeepEqual(batches, want) {
		t.Errorf("batches = %v, want %v", batches, want)
	}
	if _, err := c.Orders(context.Background(), shop, []string{"1,2"}); err == nil {
		t.Error("an id with a comma was accepted")
	}
	if _, err := c.Orders(context.Background(), marketplace.Shop{Token: shop.Token}, []string{"1"}); err == nil {
		t.Error("a shop without a cipher was accepted")
	}
}
