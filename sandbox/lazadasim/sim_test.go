package lazadasim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/lazadasim"
)

// answer is the Lazada envelope as the sim wrote it.
type answer struct {
	Code      string          `json:"code"`
	Type      string          `json:"type"`
	Message   string          `json:"message"`
	RequestID string          `json:"request_id"`
	Data      json.RawMessage `json:"data"`
}

// signed builds the query of a request to path, signed with secret, with
// the system parameters of b's clock and shop token.
func (b *bundle) signed(path, secret string, params map[string]string) url.Values {
	p := map[string]string{"app_key": appKey, "sign_method": "sha256", "access_token": b.shop.Token.AccessToken,
		"timestamp": strconv.FormatInt(b.clock.Now().UnixMilli(), 10)}
	for k, v := range params {
		p[k] = v
	}
	p["sign"] = lazada.SignAPI(secret, path, p, nil)
	q := url.Values{}
	for k, v := range p {
		q.Set(k, v)
	}
	return q
}

// get sends a query to path and decodes the answer, which must be
// Lazada's envelope with HTTP 200.
func (b *bundle) get(t *testing.T, path string, q url.Values) answer {
	t.Helper()
	resp, err := http.Get(b.url + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var a answer
	if err := json.Unmarshal(body, &a); err != nil || resp.StatusCode != http.StatusOK || a.Code == "" || a.RequestID == "" {
		t.Fatalf("%s: HTTP %d %s (%v)", path, resp.StatusCode, body, err)
	}
	if a.Code != "0" && (a.Type == "" || a.Message == "") {
		t.Fatalf("%s: error without type or message: %s", path, body)
	}
	return a
}

func TestSimRefusesForgedRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, lazadasim.Config{}, nil)
	b.sale.Put(sampleOrder("4001", 1, t0))
	order := map[string]string{"order_id": "4001"}

	if a := b.get(t, lazada.PathOrder, b.signed(lazada.PathOrder, appSecret, order)); a.Code != "0" {
		t.Fatalf("a faithful request was refused: %+v", a)
	}
	edit := func(f func(q url.Values)) url.Values {
		q := b.signed(lazada.PathOrder, appSecret, order)
		f(q)
		return q
	}
	for name, c := range map[string]struct {
		q    url.Values
		code string
	}{
		"wrong secret":     {b.signed(lazada.PathOrder, "other-secret", order), "IncompleteSignature"},
		"tampered param":   {edit(func(q url.Values) { q.Set("order_id", "4002") }), "IncompleteSignature"},
		"added param":      {edit(func(q url.Values) { q.Set("limit", "1") }), "IncompleteSignature"},
		"lowercase sign":   {edit(func(q url.Values) { q.Set("sign", strings.ToLower(q.Get("sign"))) }), "IncompleteSignature"},
		"no sign":          {edit(func(q url.Values) { q.Del("sign") }), "IncompleteSignature"},
		"signed with rest": {b.signed("/rest"+lazada.PathOrder, appSecret, order), "IncompleteSignature"},
		"other path":       {b.signed(lazada.PathOrderItems, appSecret, order), "IncompleteSignature"},
		"duplicate param":  {edit(func(q url.Values) { q.Add("order_id", "4001") }), "InvalidParameter"},
		"app key":          {edit(func(q url.Values) { q.Set("app_key", "654321") }), "InvalidAppKey"},
		"no app key":       {edit(func(q url.Values) { q.Del("app_key") }), "MISSING_PARAMETER"},
		"sign method":      {b.signed(lazada.PathOrder, appSecret, map[string]string{"order_id": "4001", "sign_method": "hmac"}), "InvalidSignMethod"},
		"stale timestamp": {b.signed(lazada.PathOrder, appSecret, map[string]string{"order_id": "4001",
			"timestamp": strconv.FormatInt(t0.Add(-7201*time.Second).UnixMilli(), 10)}), "InvalidTimestamp"},
		"future timestamp": {b.signed(lazada.PathOrder, appSecret, map[string]string{"order_id": "4001",
			"timestamp": strconv.FormatInt(t0.Add(7201*time.Second).UnixMilli(), 10)}), "InvalidTimestamp"},
		"bad token":     {b.signed(lazada.PathOrder, appSecret, map[string]string{"order_id": "4001", "access_token": "nope"}), "IllegalAccessToken"},
		"no token":      {edit(func(q url.Values) { q.Del("access_token"); q.Set("sign", "") }), "IncompleteSignature"},
		"unknown order": {b.signed(lazada.PathOrder, appSecret, map[string]string{"order_id": "4002"}), lazada.CodeInvalidOrderID},
	} {
		if a := b.get(t, lazada.PathOrder, c.q); a.Code != c.code {
			t.Errorf("%s: code %q (%s), want %q", name, a.Code, a.Message, c.code)
		}
	}
	noToken := map[string]string{"order_id": "4001"}
	q := b.signed(lazada.PathOrder, appSecret, noToken)
	q.Del("access_token")
	p := map[string]string{}
	for k := range q {
		p[k] = q.Get(k)
	}
	q.Set("sign", lazada.SignAPI(appSecret, lazada.PathOrder, p, nil))
	if a := b.get(t, lazada.PathOrder, q); a.Code != "MISSING_PARAMETER" || !strings.Contains(a.Message, "access_token") {
		t.Errorf("no access token: %+v", a)
	}
	iso := b.signed(lazada.PathOrder, appSecret, map[string]string{"order_id": "4001", "timestamp": t0.Add(-time.Hour).Format(time.RFC3339)})
	if a := b.get(t, lazada.PathOrder, iso); a.Code != "0" {
		t.Errorf("ISO timestamp: %+v", a)
	}
	if a := b.get(t, "/order/delete", b.signed("/order/delete", appSecret, order)); a.Code != "InvalidApiPath" {
		t.Errorf("unknown path: %+v", a)
	}
	if a := b.get(t, lazada.PathOrder, b.signed(lazada.PathOrder, appSecret, map[string]string{"order_id": "4002"})); a.Message != `E016: "4002" Invalid Order ID` {
		t.Errorf("E016 message %q", a.Message)
	}
}

func TestSimOrderAPIsCheckTheirParameters(t *testing.T) {
	t.Parallel()
	b := setup(t, lazadasim.Config{}, nil)
	b.sale.Put(sampleOrder("4101", 2, t0))
	ids := make([]string, 51)
	for i := range ids {
		ids[i] = strconv.Itoa(4101 + i)
	}
	for name, c := range map[string]struct {
		path   string
		params map[string]string
		code   string
	}{
		"51 ids":         {lazada.PathOrdersItems, map[string]string{"order_ids": "[" + strings.Join(ids, ",") + "]"}, "38"},
		"not a list":     {lazada.PathOrdersItems, map[string]string{"order_ids": "4101,4102"}, "56"},
		"bad id":         {lazada.PathOrdersItems, map[string]string{"order_ids": "[4101,x]"}, "37"},
		"none found":     {lazada.PathOrdersItems, map[string]string{"order_ids": "[1, 2]"}, "39"},
		"some found":     {lazada.PathOrdersItems, map[string]string{"order_ids": "[1, 4101]"}, "0"},
		"Z date":         {lazada.PathOrders, map[string]string{"update_after": "2026-11-20T00:00:00Z"}, "17"},
		"no window":      {lazada.PathOrders, map[string]string{"limit": "10"}, "MISSING_PARAMETER"},
		"limit 101":      {lazada.PathOrders, map[string]string{"update_after": "2026-11-20T00:00:00+08:00", "limit": "101"}, "19"},
		"offset":         {lazada.PathOrders, map[string]string{"update_after": "2026-11-20T00:00:00+08:00", "offset": "-1"}, "14"},
		"sort":           {lazada.PathOrders, map[string]string{"update_after": "2026-11-20T00:00:00+08:00", "sort_by": "price"}, "75"},
		"direction":      {lazada.PathOrders, map[string]string{"update_after": "2026-11-20T00:00:00+08:00", "sort_direction": "UP"}, "74"},
		"status":         {lazada.PathOrders, map[string]string{"update_after": "2026-11-20T00:00:00+08:00", "status": "lost_forever"}, "36"},
		"items of order": {lazada.PathOrderItems, map[string]string{"order_id": "4101"}, "0"},
	} {
		if a := b.get(t, c.path, b.signed(c.path, appSecret, c.params)); a.Code != c.code {
			t.Errorf("%s: code %q (%s), want %q", name, a.Code, a.Message, c.code)
		}
	}

	// The list: whole orders with ISO dates in the shop's time zone.
	a := b.get(t, lazada.PathOrders, b.signed(lazada.PathOrders, appSecret,
		map[string]string{"update_after": "2026-11-20T15:59:59+08:00", "update_before": "2026-11-20T16:00:00+08:00", "status": "ready_to_ship"}))
	var list struct {
		CountTotal int              `json:"countTotal"`
		Orders     []map[string]any `json:"orders"`
	}
	if err := json.Unmarshal(a.Data, &list); err != nil || list.CountTotal != 1 || len(list.Orders) != 1 {
		t.Fatalf("list %s: %v", a.Data, err)
	}
	if got := list.Orders[0]["updated_at"]; got != "2026-11-20T16:00:00+08:00" {
		t.Fatalf("updated_at %v", got)
	}
	if got := list.Orders[0]["price"]; got != "25.00" {
		t.Fatalf("price %v (the units' list prices)", got)
	}
}

func TestSimRateLimitPerPathAndShop(t *testing.T) {
	t.Parallel()
	b := setup(t, lazadasim.Config{RatePerSecond: 0.001, Burst: 2}, nil)
	b.sale.AddShop(sandbox.Shop{Platform: order.Lazada, ShopID: "2000", Region: "vn"})
	b.sale.Put(sampleOrder("4201", 1, t0))
	q := func() url.Values { return b.signed(lazada.PathOrder, appSecret, map[string]string{"order_id": "4201"}) }
	for i, want := range []string{"0", "0", "ApiCallLimit", "ApiCallLimit"} {
		if a := b.get(t, lazada.PathOrder, q()); a.Code != want {
			t.Fatalf("request %d: %q, want %q", i, a.Code, want)
		}
	}
	list := b.signed(lazada.PathOrders, appSecret, map[string]string{"update_after": "2026-11-20T00:00:00+08:00"})
	if a := b.get(t, lazada.PathOrders, list); a.Code != "0" {
		t.Fatalf("another path is limited: %+v", a)
	}
	other := b.sale.IssueToken(order.Lazada, "2000")
	q2 := b.signed(lazada.PathOrder, appSecret, map[string]string{"order_id": "4201", "access_token": other.AccessToken})
	if a := b.get(t, lazada.PathOrder, q2); a.Code != lazada.CodeInvalidOrderID {
		t.Fatalf("another shop is limited (or sees the order): %+v", a)
	}
}
