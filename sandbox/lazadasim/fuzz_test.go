package lazadasim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/lazadasim"
)

// FuzzHandler sends arbitrary paths and queries, some validly signed, to
// the sim: it never panics and always answers Lazada's envelope.
func FuzzHandler(f *testing.F) {
	f.Add("/rest/order/get", "order_id=5001", true)
	f.Add("/orders/items/get", "order_ids=[5001,%201]", true)
	f.Add("/orders/get", "update_after=2026-11-20T00:00:00%2B08:00&limit=3&offset=1&sort_direction=DESC&sort_by=created_at", true)
	f.Add("/auth/token/refresh", "refresh_token=x", true)
	f.Add("/auth/token/create", "code=&code=1", false)
	f.Add("/order/items/get", "sign=00&timestamp=1", false)
	sale := sandbox.NewSale(func() time.Time { return t0 })
	sale.SetApp(order.Lazada, sandbox.App{Key: appKey, Secret: appSecret})
	sale.AddShop(sandbox.Shop{Platform: order.Lazada, ShopID: shopID, Region: "sg"})
	sale.Put(sampleOrder("5001", 3, t0))
	tok := sale.IssueToken(order.Lazada, shopID)
	h := lazadasim.New(sale, lazadasim.Config{Clock: func() time.Time { return t0 }}).Handler()
	f.Fuzz(func(t *testing.T, path, rawQuery string, sign bool) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		u := &url.URL{Path: path}
		if sign {
			p := map[string]string{"app_key": appKey, "sign_method": "sha256", "access_token": tok.AccessToken,
				"timestamp": strconv.FormatInt(t0.UnixMilli(), 10)}
			for k, v := range q {
				p[k] = v[0]
			}
			p["sign"] = lazada.SignAPI(appSecret, u.Path, p, nil)
			q = url.Values{}
			for k, v := range p {
				q.Set(k, v)
			}
		}
		u.RawQuery = q.Encode()
		req := httptest.NewRequest(http.MethodGet, "http://sim.test/", nil)
		req.URL = u
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var env struct {
			Code      string `json:"code"`
			RequestID string `json:"request_id"`
		}
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &env) != nil || env.Code == "" || env.RequestID == "" {
			t.Fatalf("%s?%s: HTTP %d %s", path, u.RawQuery, w.Code, w.Body.Bytes())
		}
	})
}
