package shopee

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The API signing vector of /work/shared/marketplaces.md (the base string
// of Shopee's own guide, signed with test_partner_key).
func TestSignAPIVector(t *testing.T) {
	t.Parallel()
	got := SignAPI("test_partner_key", "2001887", "/api/v2/shop/get_shop_info", 1655714431,
		"59777174636562737266615546704c6d", "14701711")
	if want := "9fdae5aeed86e753249982ec04aa54339280f12d3f456b9e3f7d8ee91e66a2b3"; got != want {
		t.Fatalf("SignAPI = %s, want %s", got, want)
	}
}

func TestSignAPIPublicBaseString(t *testing.T) {
	t.Parallel()
	m := hmac.New(sha256.New, []byte("k"))
	m.Write([]byte("2001887/api/v2/public/get_shops_by_partner1655714431"))
	if got, want := SignAPI("k", "2001887", "/api/v2/public/get_shops_by_partner", 1655714431, "", ""), hex.EncodeToString(m.Sum(nil)); got != want {
		t.Fatalf("public SignAPI = %s, want %s", got, want)
	}
}

func TestDecodeOrderDetailFixture(t *testing.T) {
	t.Parallel()
	fetched := time.Date(2022, 1, 10, 9, 0, 0, 0, time.UTC)
	got, err := decodeOrderDetail(fixture(t, "api_order_detail.json"), fetched)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("decoded %d orders, want 2 (the unknown order_sn of the warning is absent)", len(got))
	}
	want := order.Detail{
		Status:      "READY_TO_SHIP",
		CreateTime:  time.Unix(1641800000, 0).UTC(),
		UpdateTime:  time.Unix(1641803600, 0).UTC(),
		Currency:    "SGD",
		Total:       "56.25",
		ShippingFee: "3.9",
		Items: []order.Item{
			{ItemID: "100900", SKU: "MUG-BLUE", Name: "Ceramic Mug", Quantity: 3, UnitPrice: "15", PaidPrice: "12.45"},
			{ItemID: "100901", SKU: "COASTER", Name: "Coaster", Quantity: 1, UnitPrice: "15", PaidPrice: "15"},
		},
		Buyer: order.Buyer{ID: "258113", Username: "buyer_one"},
		Address: &order.Address{Name: "A***n", Phone: "******58", Line: "10 B*** Street, #01-01, Singapore 018956",
			City: "Singapore", Postcode: "018956", Country: "SG"},
		Packages:  []order.Package{{ID: "OFG104511111112101", Carrier: "Ninja Van", Status: "LOGISTICS_READY"}},
		FetchedAt: fetched,
	}
	if d := got["220110DYQX6AH5"]; !reflect.DeepEqual(d, want) {
		t.Fatalf("order 220110DYQX6AH5 =\n%+v\nwant\n%+v", d, want)
	}
	idr := got["220110DYG3DRAK"]
	if idr.Total != "1250000" || idr.ShippingFee != "0" || idr.Currency != "IDR" || idr.Buyer.ID != "0" ||
		len(idr.Items) != 1 || idr.Items[0].SKU != "BTK" || idr.Packages != nil {
		t.Fatalf("order 220110DYG3DRAK = %+v", idr)
	}
}

func TestDecodeOrderDetailRefusesInexactAmounts(t *testing.T) {
	t.Parallel()
	for _, amount := range []string{`1e3`, `"12,50"`, `-`, `12.`} {
		body := `{"error":"","response":{"order_list":[{"order_sn":"A","total_amount":` + amount + `}]}}`
		if _, err := decodeOrderDetail([]byte(body), time.Time{}); !errors.Is(err, ErrMalformedResponse) {
			t.Errorf("total_amount %s: err = %v, want ErrMalformedResponse", amount, err)
		}
	}
	// A numeric string is the same number.
	body := `{"error":"","response":{"order_list":[{"order_sn":"A","total_amount":"12.50"}]}}`
	got, err := decodeOrderDetail([]byte(body), time.Time{})
	if err != nil || got["A"].Total != "12.5" {
		t.Fatalf("string amount: %+v, %v", got, err)
	}
}

func TestDecodeOrderDetailErrorEnvelope(t *testing.T) {
	t.Parallel()
	_, err := decodeOrderDetail(fixture(t, "api_error_token.json"), time.Time{})
	var apiErr *marketplace.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "invalid_acceess_token" || apiErr.Message != "Invalid access_token." ||
		apiErr.RequestID != "9d8c7b6a5f4e3d2c1b0a998877665544" || !errors.Is(err, marketplace.ErrAuth) {
		t.Fatalf("err = %#v, want the envelope's APIError of kind ErrAuth", err)
	}
}

func TestDecodeOrderList(t *testing.T) {
	t.Parallel()
	p, err := decodeOrderList(fixture(t, "api_order_list.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []marketplace.OrderRef{{OrderID: "220110DYQX6AH5", Status: "READY_TO_SHIP"}, {OrderID: "220110DYG3DRAK", Status: "UNPAID"}}
	if !p.more || p.next != "20" || !reflect.DeepEqual(p.orders, want) {
		t.Fatalf("page = %+v", p)
	}
	if _, err := decodeOrderList([]byte(`{"error":"","response":{"more":true,"next_cursor":"","order_list":[]}}`)); !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("more without next_cursor: err = %v, want ErrMalformedResponse", err)
	}
	if _, err := decodeOrderList([]byte(`{"error":"","message":""}`)); !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("no response object: err = %v, want ErrMalformedResponse", err)
	}
}

func TestDecodePackageDetail(t *testing.T) {
	t.Parallel()
	got, err := decodePackageDetail(fixture(t, "api_package_detail.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]order.Package{"OFG104511111112101": {ID: "OFG104511111112101", TrackingNo: "SGNJV0123456789", Carrier: "Ninja Van"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("packages = %+v", got)
	}
}

func TestDecodeToken(t *testing.T) {
	t.Parallel()
	now := time.Date(2022, 7, 8, 7, 0, 0, 0, time.UTC)
	for _, name := range []string{"api_token.json", "api_refresh.json"} {
		tok, err := decodeToken(fixture(t, name), now)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if tok.AccessToken == "" || tok.RefreshToken == "" || !tok.AccessExpiresAt.After(now.Add(3*time.Hour)) ||
			!tok.RefreshExpiresAt.Equal(now.Add(RefreshTokenLifetime)) {
			t.Fatalf("%s: token %+v", name, tok)
		}
	}
	tok, _ := decodeToken(fixture(t, "api_token.json"), now)
	if !tok.AccessExpiresAt.Equal(now.Add(13859 * time.Second)) {
		t.Fatalf("AccessExpiresAt = %v, want now + expire_in", tok.AccessExpiresAt)
	}
	if _, err := decodeToken([]byte(`{"error":"","access_token":"a","refresh_token":"r","expire_in":-5}`), now); !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("negative expire_in: err = %v", err)
	}
}

func TestDecodeLostPushesAndBody(t *testing.T) {
	t.Parallel()
	page, err := decodeLostPushes(fixture(t, "api_lost_push.json"))
	if err != nil {
		t.Fatal(err)
	}
	if page.LastMessageID != 8842 || page.HasNextPage || len(page.Pushes) != 2 {
		t.Fatalf("page = %+v", page)
	}
	if p := page.Pushes[1]; p.ShopID != "" || p.Code != 12 {
		t.Fatalf("partner-level push = %+v, want no shop id and code 12", p)
	}
	ev, err := Parse(page.Pushes[0].Body(), receivedAt)
	if err != nil {
		t.Fatalf("Parse(Body()) of a lost push: %v\n%s", err, page.Pushes[0].Body())
	}
	if ev.OrderID != "251214B9XAB0ST" || ev.ShopID != "336094210" || ev.Kind != order.KindStatus || ev.Status != order.StatusReadyToShip {
		t.Fatalf("event = %+v", ev)
	}
	notice, err := Parse(page.Pushes[1].Body(), receivedAt)
	if err != nil || notice.Kind != order.KindNotice {
		t.Fatalf("partner push: %+v, %v", notice, err)
	}
}

func TestErrorKinds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		code   string
		status int
		want   error
	}{
		{"error_auth", 403, marketplace.ErrAuth},
		{"error_sign", 403, marketplace.ErrAuth},
		{"invalid_acceess_token", 403, marketplace.ErrAuth},
		{"invalid_access_token", 200, marketplace.ErrAuth},
		{"error_permission", 200, marketplace.ErrAuth},
		{"error_server", 200, marketplace.ErrTemporary},
		{"error_network", 500, marketplace.ErrTemporary},
		{"error_busy", 200, marketplace.ErrTemporary},
		{"error_rate_limit", 429, marketplace.ErrRateLimited},
		{"error_too_many_request", 200, marketplace.ErrRateLimited},
		{"error_param", 200, nil},
		{"error_param", 400, nil},
		{"error_not_found", 200, nil},
		{"error_whatever", 503, marketplace.ErrTemporary},
		{"error_whatever", 429, marketplace.ErrRateLimited},
	} {
		if got := errorKind(c.code, c.status); got != c.want {
			t.Errorf("errorKind(%q, %d) = %v, want %v", c.code, c.status, got, c.want)
		}
	}
}

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	good := ClientConfig{PartnerID: "2001887", PartnerKey: "k"}
	if _, err := NewClient(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, mod := range map[string]func(*ClientConfig){
		"PartnerID":  func(c *ClientConfig) { c.PartnerID = "12a" },
		"PartnerKey": func(c *ClientConfig) { c.PartnerKey = "" },
		"PageSize":   func(c *ClientConfig) { c.PageSize = 101 },
		"BaseURL":    func(c *ClientConfig) { c.BaseURL = "ftp://x" },
		"BaseURL ":   func(c *ClientConfig) { c.BaseURL = "https://x/api?x=1" },
	} {
		c := good
		mod(&c)
		if _, err := NewClient(c); err == nil || !strings.Contains(err.Error(), strings.TrimSpace(name)) {
			t.Errorf("%s: err = %v, want one naming the field", name, err)
		}
	}
	c := good
	c.PartnerKey = "super-secret-partner-key"
	if s := c.String(); strings.Contains(s, c.PartnerKey) {
		t.Fatalf("String shows the partner key: %s", s)
	}
}

// recorder is an httptest server that answers every request with the
// body answer returns, and records the requests.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recorder) server(t *testing.T, answer func(*http.Request) (int, string)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req)
		r.mu.Unlock()
		status, body := answer(req)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func testClient(t *testing.T, base string, mod func(*ClientConfig)) *Client {
	t.Helper()
	cfg := ClientConfig{PartnerID: "2001887", PartnerKey: "k", BaseURL: base, RatePerSecond: -1,
		BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var testShop = marketplace.Shop{Platform: order.Shopee, ShopID: "14701711", Token: marketplace.Token{AccessToken: "tok-0123456789abcdef"}}

func TestUpdatedSplitsWindowIntoFifteenDaySlices(t *testing.T) {
	t.Parallel()
	var rec recorder
	srv := rec.server(t, func(*http.Request) (int, string) {
		return 200, `{"error":"","message":"","response":{"more":false,"next_cursor":"","order_list":[]}}`
	})
	c := testClient(t, srv.URL, nil)
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(40 * 24 * time.Hour)
	page, err := c.Updated(context.Background(), testShop, from, to, "")
	if err != nil || page.Cursor != "" || len(page.Orders) != 0 {
		t.Fatalf("page %+v, err %v; want an empty last page", page, err)
	}
	if len(rec.reqs) != 3 {
		t.Fatalf("%d calls, want 3 slices for 40 days", len(rec.reqs))
	}
	next := from.Unix()
	for _, r := range rec.reqs {
		q := r.URL.Query()
		tf, _ := strconv.ParseInt(q.Get("time_from"), 10, 64)
		tt, _ := strconv.ParseInt(q.Get("time_to"), 10, 64)
		if tf != next || tt < tf || tt-tf > int64(MaxListWindow/time.Second) || q.Get("time_range_field") != "update_time" {
			t.Fatalf("slice %s: time_from %d time_to %d, want from %d and at most 15 days", r.URL.RawQuery, tf, tt, next)
		}
		next = tt + 1
	}
	if next != to.Unix() {
		t.Fatalf("slices end at %d, want %d (to is exclusive)", next-1, to.Unix()-1)
	}
}

func TestUpdatedRefusesForeignCursor(t *testing.T) {
	t.Parallel()
	c := testClient(t, "http://127.0.0.1:1", nil)
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, cur := range []string{"garbage", "1:x", strconv.FormatInt(from.Add(-time.Hour).Unix(), 10) + ":0"} {
		if _, err := c.Updated(context.Background(), testShop, from, from.Add(time.Hour), cur); err == nil {
			t.Errorf("cursor %q accepted", cur)
		}
	}
}

func TestOrdersRefusesBadIDs(t *testing.T) {
	t.Parallel()
	c := testClient(t, "http://127.0.0.1:1", nil)
	for _, id := range []string{"", "a,b", "a b", strings.Repeat("x", 65)} {
		if _, err := c.Orders(context.Background(), testShop, []string{id}); err == nil {
			t.Errorf("id %q accepted", id)
		}
	}
}

func TestOrdersBatchesAndFetchesTracking(t *testing.T) {
	t.Parallel()
	var rec recorder
	srv := rec.server(t, func(r *http.Request) (int, string) {
		if r.URL.Path == PathPackageDetail {
			return 200, string(fixture(t, "api_package_detail.json"))
		}
		return 200, string(fixture(t, "api_order_detail.json"))
	})
	c := testClient(t, srv.URL, nil)
	ids := []string{"220110DYQX6AH5", "220110DYG3DRAK"}
	for i := range 60 {
		ids = append(ids, "X"+strconv.Itoa(i))
	}
	got, err := c.Orders(context.Background(), testShop, append(ids, ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["220110DYQX6AH5"].Packages[0].TrackingNo != "SGNJV0123456789" {
		t.Fatalf("got %+v", got)
	}
	var details, packages int
	for _, r := range rec.reqs {
		q := r.URL.Query()
		switch r.URL.Path {
		case PathOrderDetail:
			details++
			if n := len(strings.Split(q.Get("order_sn_list"), ",")); n > MaxDetailBatch {
				t.Fatalf("order_sn_list of %d", n)
			}
			for _, f := range []string{"item_list", "recipient_address", "total_amount", "package_list", "buyer_user_id"} {
				if !strings.Contains(q.Get("response_optional_fields"), f) {
					t.Fatalf("response_optional_fields %q lacks %s", q.Get("response_optional_fields"), f)
				}
			}
		case PathPackageDetail:
			packages++
		}
		ts, _ := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		if want := SignAPI("k", "2001887", r.URL.Path, ts, testShop.Token.AccessToken, testShop.ShopID); q.Get("sign") != want {
			t.Fatalf("sign %s, want %s", q.Get("sign"), want)
		}
	}
	if details != 2 || packages != 1 {
		t.Fatalf("%d detail and %d package calls, want 2 (62 unique ids) and 1", details, packages)
	}
}

func TestErrorEnvelopeWith200IsAPIError(t *testing.T) {
	t.Parallel()
	var rec recorder
	srv := rec.server(t, func(*http.Request) (int, string) {
		return 200, `{"request_id":"r1","error":"error_param","message":"Wrong parameters, detail: order_sn_list."}`
	})
	_, err := testClient(t, srv.URL, nil).Orders(context.Background(), testShop, []string{"A"})
	var apiErr *marketplace.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 200 || apiErr.Code != "error_param" || apiErr.Kind != nil || apiErr.RequestID != "r1" {
		t.Fatalf("err = %v, want APIError error_param without kind", err)
	}
	if len(rec.reqs) != 1 {
		t.Fatalf("a refusal was sent %d times, want once", len(rec.reqs))
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	t.Parallel()
	var rec recorder
	var n int
	srv := rec.server(t, func(*http.Request) (int, string) {
		n++
		if n < 3 {
			return 200, `{"request_id":"r","error":"error_server","message":"Something wrong. Please try later."}`
		}
		return 200, `{"error":"","response":{"order_list":[]}}`
	})
	got, err := testClient(t, srv.URL, nil).Orders(context.Background(), testShop, []string{"A"})
	if err != nil || len(got) != 0 || len(rec.reqs) != 3 {
		t.Fatalf("got %v, err %v after %d calls; want success on the 3rd", got, err, len(rec.reqs))
	}
}

func TestTransportErrorHidesToken(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens any more
	c := testClient(t, base, func(c *ClientConfig) { c.MaxAttempts = 1 })
	_, err := c.Orders(context.Background(), testShop, []string{"A"})
	if !errors.Is(err, marketplace.ErrTemporary) {
		t.Fatalf("err = %v, want ErrTemporary", err)
	}
	if msg := err.Error(); strings.Contains(msg, testShop.Token.AccessToken) || strings.Contains(msg, "sign=0") ||
		!strings.Contains(msg, "access_token=REDACTED") {
		t.Fatalf("error text leaks a secret or lost its shape: %s", msg)
	}
}
