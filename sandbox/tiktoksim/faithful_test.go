package tiktoksim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/tiktoksim"
)

// raw is one hand-made Open API request, signed unless a test spoils it.
type raw struct {
	method, path string
	query        url.Values
	body         []byte
	token        string
	secret       string             // signs with this; default appSecret
	spoil        func(q url.Values) // changes the query after signing
}

type answer struct {
	status int
	Code   int             `json:"code"`
	Msg    string          `json:"message"`
	ReqID  string          `json:"request_id"`
	Data   json.RawMessage `json:"data"`
}

func (b *bundle) do(t *testing.T, r raw) answer {
	t.Helper()
	q := url.Values{"app_key": {appKey}, "timestamp": {strconv.FormatInt(b.clock.Now().Unix(), 10)}}
	for k, v := range r.query {
		q[k] = v
	}
	secret := r.secret
	if secret == "" {
		secret = appSecret
	}
	q.Set("sign", tiktok.SignAPI([]byte(secret), r.path, q, r.body))
	if r.spoil != nil {
		r.spoil(q)
	}
	req, err := http.NewRequest(r.method, b.srv.URL+r.path+"?"+q.Encode(), bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if r.token != "" {
		req.Header.Set(tiktok.HeaderAccessToken, r.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode}
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("answer %d is not TikTok's envelope: %s", resp.StatusCode, body)
	}
	if a.ReqID == "" {
		t.Errorf("answer without request_id: %s", body)
	}
	return a
}

// TestSimIsNotPermissive: every request that TikTok refuses, the sim
// refuses with TikTok's code and status; the same request done right
// passes.
func TestSimIsNotPermissive(t *testing.T) {
	t.Parallel()
	b := setup(t, tiktoksim.Config{}, nil)
	tok := b.sale.IssueToken(order.TikTok, shopID).AccessToken
	detail := url.Values{"shop_cipher": {cipher}, "ids": {"1,2"}}
	search := url.Values{"shop_cipher": {cipher}, "page_size": {"10"}, "sort_field": {"update_time"}, "sort_order": {"ASC"}}
	body := []byte(`{"update_time_ge":0,"update_time_lt":2000000000}`)
	old := strconv.FormatInt(b.clock.Now().Add(-6*time.Minute).Unix(), 10)
	future := strconv.FormatInt(b.clock.Now().Add(6*time.Minute).Unix(), 10)
	cases := []struct {
		name         string
		r            raw
		status, code int
	}{
		{"detail ok", raw{method: "GET", path: tiktok.PathOrderDetail, query: detail, token: tok}, 200, 0},
		{"search ok", raw{method: "POST", path: tiktok.PathOrderSearch, query: search, body: body, token: tok}, 200, 0},
		{"shops ok", raw{method: "GET", path: tiktok.PathShops, token: tok}, 200, 0},
		{"wrong secret", raw{method: "GET", path: tiktok.PathOrderDetail, query: detail, token: tok, secret: "e59af819cd"}, 401, tiktok.CodeSignInvalid},
		{"tampered ids", raw{method: "GET", path: tiktok.PathOrderDetail, query: detail, token: tok,
			spoil: func(q url.Values) { q.Set("ids", "1,3") }}, 401, tiktok.CodeSignInvalid},
		{"added param", raw{method: "GET", path: tiktok.PathOrderDetail, query: detail, token: tok,
			spoil: func(q url.Values) { q.Set("x", "1") }}, 401, tiktok.CodeSignInvalid},
		{"tampered body", raw{method: "POST", path: tiktok.PathOrderSearch, query: search, body: body, token: tok,
			spoil: func(q url.Values) {
				q.Set("sign", tiktok.SignAPI([]byte(appSecret), tiktok.PathOrderSearch, q, []byte(`{}`)))
			}}, 401, tiktok.CodeSignInvalid},
		{"sign without body", raw{method: "POST", path: tiktok.PathOrderSearch, query: search, body: body, token: tok,
			spoil: func(q url.Values) {
				q.Del("sign")
				q.Set("sign", tiktok.SignAPI([]byte(appSecret), tiktok.PathOrderSearch, q, nil))
			}}, 401, tiktok.CodeSignInvalid},
		{"no sign", raw{method: "GET", path: tiktok.PathOrderDetail, query: detail, token: tok,
			spoil: func(q url.Values) { q.Del("sign") }}, 401, tiktok.CodeInvalidParam},
		{"bad app_key", raw{method: "GET", path: tiktok.PathOrderDetail, query: detail, token: tok,
			spoil: func(q url.Values) { q.Set("app_key", "zzz") }}, 400, tiktok.CodeInvalidParam},
		{"old timestamp", raw{method: "GET", path: tiktok.PathOrderDetail, query: url.Values{"shop_cipher": {cipher}, "ids": {"1"}, "timestamp": {old}}, token: tok}, 401, tiktok.CodeInvalidParam},
		{"future timestamp", raw{method: "GET", path: tiktok.PathOrderDetail, query: url.Values{"shop_cipher": {cipher}, "ids": {"1"}, "timestamp": {future}}, token: tok}, 401, tiktok.CodeInvalidParam},
		{"no token", raw{method: "GET", path: tiktok.PathOrderDetail, query: detail}, 401, tiktok.CodeInvalidParam},
		{"unknown token", raw{method: "GET", path: tiktok.PathOrderDetail, query: detail, token: "nope"}, 401, tiktok.CodeTokenInvalid},
		{"no cipher", raw{method: "GET", path: tiktok.PathOrderDetail, query: url.Values{"ids": {"1"}}, token: tok}, 400, tiktok.CodeNoShopCipher},
		{"other shop's cipher", raw{method: "GET", path: tiktok.PathOrderDetail, query: url.Values{"ids": {"1"}, "shop_cipher": {"ROW_other"}}, token: tok}, 400, tiktok.CodeInvalidParam},
		{"cipher on shops", raw{method: "GET", path: tiktok.PathShops, query: url.Values{"shop_cipher": {cipher}}, token: tok}, 400, tiktok.CodeInvalidParam},
		{"51 ids", raw{method: "GET", path: tiktok.PathOrderDetail, query: url.Values{"shop_cipher": {cipher}, "ids": {strings.Repeat("1,", 50) + "1"}}, token: tok}, 400, tiktok.CodeInvalidParam},
		{"no ids", raw{method: "GET", path: tiktok.PathOrderDetail, query: url.Values{"shop_cipher": {cipher}}, token: tok}, 400, tiktok.CodeInvalidParam},
		{"page_size 101", raw{method: "POST", path: tiktok.PathOrderSearch, query: url.Values{"shop_cipher": {cipher}, "page_size": {"101"}}, body: body, token: tok}, 400, tiktok.CodeInvalidParam},
		{"forged page_token", raw{method: "POST", path: tiktok.PathOrderSearch, query: url.Values{"shop_cipher": {cipher}, "page_size": {"10"}, "page_token": {"eyJvIjoxfQ"}}, body: body, token: tok}, 400, tiktok.CodeInvalidParam},
		{"search by GET", raw{method: "GET", path: tiktok.PathOrderSearch, query: search, token: tok}, 404, 36009009},
		{"unknown path", raw{method: "GET", path: "/order/202309/nothing", token: tok}, 404, 36009009},
	}
	for _, c := range cases {
		a := b.do(t, c.r)
		if a.status != c.status || a.Code != c.code {
			t.Errorf("%s: HTTP %d code %d (%s), want HTTP %d code %d", c.name, a.status, a.Code, a.Msg, c.status, c.code)
		}
	}
}

// TestSimTokenEndpoints: the auth host checks the app secret and the grant.
func TestSimTokenEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t, tiktoksim.Config{}, nil)
	get := func(path string, q url.Values) answer {
		resp, err := http.Get(b.srv.URL + path + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		a := answer{status: resp.StatusCode}
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	code := b.sale.AuthCode(order.TikTok, shopID)
	q := url.Values{"app_key": {appKey}, "app_secret": {"wrong"}, "auth_code": {code}, "grant_type": {"authorized_code"}}
	if a := get(tiktok.PathTokenGet, q); a.Code != tiktok.CodeInvalidParam {
		t.Errorf("wrong app secret: %+v", a)
	}
	q.Set("app_secret", appSecret)
	q.Set("grant_type", "refresh_token")
	if a := get(tiktok.PathTokenGet, q); a.Code != tiktok.CodeInvalidParam {
		t.Errorf("wrong grant_type: %+v", a)
	}
	q.Set("grant_type", "authorized_code")
	a := get(tiktok.PathTokenGet, q)
	var data struct {
		AccessExpireIn int64 `json:"access_token_expire_in"`
	}
	if a.Code != 0 || json.Unmarshal(a.Data, &data) != nil || data.AccessExpireIn != b.clock.Now().Add(b.sale.AccessTTL).Unix() {
		t.Errorf("token/get: %+v; access_token_expire_in must be the Unix expiry", a)
	}
	if a := get(tiktok.PathTokenGet, q); a.Code != tiktok.CodeAuthNotFound {
		t.Errorf("code used twice: %+v", a)
	}
}

// TestSimRateLimit: the limit is per API path and shop.
func TestSimRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, tiktoksim.Config{RatePerSecond: 0.001, Burst: 2}, nil)
	tok := b.sale.IssueToken(order.TikTok, shopID).AccessToken
	other := b.sale.IssueToken(order.TikTok, "other").AccessToken
	detail := raw{method: "GET", path: tiktok.PathOrderDetail, query: url.Values{"shop_cipher": {cipher}, "ids": {"1"}}, token: tok}
	for i := range 2 {
		if a := b.do(t, detail); a.Code != 0 {
			t.Fatalf("request %d within the burst: %+v", i, a)
		}
	}
	if a := b.do(t, detail); a.status != http.StatusTooManyRequests || a.Code != tiktok.CodeRateLimited {
		t.Fatalf("over the limit: %+v", a)
	}
	if a := b.do(t, raw{method: "GET", path: tiktok.PathShops, token: tok}); a.Code != 0 {
		t.Errorf("another path shares the bucket: %+v", a)
	}
	if a := b.do(t, raw{method: "GET", path: tiktok.PathOrderDetail, query: url.Values{"shop_cipher": {"ROW_other"}, "ids": {"1"}}, token: other}); a.Code != 0 {
		t.Errorf("another shop shares the bucket: %+v", a)
	}
}

// TestSimDetailShape: amounts are decimal strings, one line item per
// unit, no address while UNPAID.
func TestSimDetailShape(t *testing.T) {
	t.Parallel()
	b := setup(t, tiktoksim.Config{}, nil)
	tok := b.sale.IssueToken(order.TikTok, shopID).AccessToken
	o := sampleOrder(b.clock.Now(), "1", "UNPAID")
	b.sale.Put(o)
	a := b.do(t, raw{method: "GET", path: tiktok.PathOrderDetail, query: url.Values{"shop_cipher": {cipher}, "ids": {"1,2"}}, token: tok})
	var data struct {
		Orders []map[string]json.RawMessage `json:"orders"`
	}
	if err := json.Unmarshal(a.Data, &data); err != nil || len(data.Orders) != 1 {
		t.Fatalf("data = %s, %v", a.Data, err)
	}
	got := data.Orders[0]
	if _, ok := got["recipient_address"]; ok {
		t.Error("UNPAID order has recipient_address")
	}
	var lines []map[string]any
	_ = json.Unmarshal(got["line_items"], &lines)
	if len(lines) != len(o.Units) {
		t.Errorf("%d line items for %d units", len(lines), len(o.Units))
	}
	if p := string(got["payment"]); !strings.Contains(p, `"total_amount":"28.04"`) || !strings.Contains(p, `"shipping_fee":"4.99"`) {
		t.Errorf("payment = %s, want decimal strings", p)
	}
	if lines[0]["sale_price"] != "10.00" || lines[0]["sku_id"] != lines[2]["sku_id"] {
		t.Errorf("line items = %v", lines)
	}
}

// TestPushesParse: every rendered webhook verifies with the app's key and
// secret and parses into the change's kind, order and status.
func TestPushesParse(t *testing.T) {
	t.Parallel()
	b := setup(t, tiktoksim.Config{}, nil)
	now := b.clock.Now()
	v := tiktok.NewVerifier(appKey, []byte(appSecret))
	o := sampleOrder(now, "576486316948490001", "CANCELLED")
	cases := []struct {
		c          sandbox.Change
		platStatus string
		status     order.Status
	}{
		{sandbox.Change{Kind: order.KindStatus, Order: o}, "CANCEL", order.StatusCancelled},
		{sandbox.Change{Kind: order.KindStatus, Order: sampleOrder(now, "576486316948490002", "ON_HOLD")}, "ON_HOLD", order.StatusOnHold},
		{sandbox.Change{Kind: order.KindAddress, Order: o}, "", ""},
		{sandbox.Change{Kind: order.KindPackage, Order: o}, "", ""},
		{sandbox.Change{Kind: order.KindCancellation, Order: o, Reverse: &sandbox.Reverse{ID: "4035318504086604100", Status: "CANCELLATION_REQUEST_PENDING"}}, "CANCELLATION_REQUEST_PENDING", ""},
		{sandbox.Change{Kind: order.KindReturn, Order: o, Reverse: &sandbox.Reverse{ID: "4035318504086604101", Return: true, Status: "RETURN_OR_REFUND_REQUEST_PENDING"}}, "RETURN_OR_REFUND_REQUEST_PENDING", ""},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		pushes, err := b.sim.Pushes(c.c)
		if err != nil || len(pushes) != 1 {
			t.Fatalf("%s: %d pushes, %v", c.c.Kind, len(pushes), err)
		}
		p := pushes[0]
		if p.Header != "Authorization" || p.Platform != order.TikTok || p.Kind != c.c.Kind || p.OrderID != c.c.Order.OrderID {
			t.Errorf("%s: push %+v", c.c.Kind, p)
		}
		if err := v.Verify(p.Signature, p.Body); err != nil {
			t.Errorf("%s: signature: %v", c.c.Kind, err)
		}
		ev, err := tiktok.Parse(p.Body, now)
		if err != nil {
			t.Fatalf("%s: Parse(%s): %v", c.c.Kind, p.Body, err)
		}
		if ev.Kind != c.c.Kind || ev.OrderID != c.c.Order.OrderID || ev.ShopID != shopID || ev.PlatformStatus != c.platStatus || ev.Status != c.status {
			t.Errorf("%s: event %+v from %s", c.c.Kind, ev, p.Body)
		}
		if seen[ev.Key] {
			t.Errorf("%s: key %s repeats", c.c.Kind, ev.Key)
		}
		seen[ev.Key] = true
	}
	for _, k := range []order.Kind{order.KindTracking, order.KindDocument, order.KindNotice} {
		if pushes, err := b.sim.Pushes(sandbox.Change{Kind: k, Order: o}); err != nil || len(pushes) != 0 {
			t.Errorf("%s: %d pushes, %v; TikTok has no such webhook", k, len(pushes), err)
		}
	}
	if _, err := b.sim.Pushes(sandbox.Change{Kind: order.KindCancellation, Order: o}); err == nil {
		t.Error("a cancellation without its reverse rendered")
	}
}
