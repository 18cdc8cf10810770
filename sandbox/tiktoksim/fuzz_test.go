package tiktoksim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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

// FuzzHandler: whatever arrives, the sim answers TikTok's envelope, and it
// never answers success to an Open API request whose sign is not the one
// SignAPI computes with the app secret.
func FuzzHandler(f *testing.F) {
	now := time.Unix(1700000000, 0)
	sale := sandbox.NewSale(func() time.Time { return now })
	sale.SetApp(order.TikTok, sandbox.App{Key: appKey, Secret: appSecret})
	sale.AddShop(sandbox.Shop{Platform: order.TikTok, ShopID: shopID, Cipher: cipher})
	token := sale.IssueToken(order.TikTok, shopID).AccessToken
	h := tiktoksim.New(sale, tiktoksim.Config{RatePerSecond: -1, Clock: func() time.Time { return now }}).Handler()

	ts := strconv.FormatInt(now.Unix(), 10)
	signed := func(path, query string, body []byte) string {
		q, _ := url.ParseQuery(query)
		q.Set("sign", tiktok.SignAPI([]byte(appSecret), path, q, body))
		return q.Encode()
	}
	f.Add("GET", tiktok.PathOrderDetail, signed(tiktok.PathOrderDetail, "app_key="+appKey+"&timestamp="+ts+"&shop_cipher="+cipher+"&ids=1,2", nil), []byte(nil), true)
	f.Add("POST", tiktok.PathOrderSearch, signed(tiktok.PathOrderSearch, "app_key="+appKey+"&timestamp="+ts+"&shop_cipher="+cipher+"&page_size=5", []byte(`{"update_time_ge":1}`)), []byte(`{"update_time_ge":1}`), true)
	f.Add("GET", tiktok.PathShops, signed(tiktok.PathShops, "app_key="+appKey+"&timestamp="+ts, nil), []byte(nil), true)
	f.Add("GET", tiktok.PathTokenGet, "app_key="+appKey+"&app_secret="+appSecret+"&grant_type=authorized_code&auth_code=x", []byte(nil), false)
	f.Add("POST", tiktok.PathOrderSearch, "page_token=%ff&page_size=-1", []byte(`{"update_time_ge":"x"}`), true)
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte, withToken bool) {
		if len(query) > 4096 || len(body) > 4096 || len(path) > 256 || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?# ") {
			return
		}
		req, err := http.NewRequest(method, "http://sim"+path+"?"+query, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		if withToken {
			req.Header.Set(tiktok.HeaderAccessToken, token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var env struct {
			Code *int `json:"code"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Code == nil {
			t.Fatalf("HTTP %d without the envelope: %q", rec.Code, rec.Body.String())
		}
		if *env.Code != 0 || path == tiktok.PathTokenGet || path == tiktok.PathTokenRefresh {
			return
		}
		q := req.URL.Query()
		var signedBody []byte
		if method == http.MethodPost {
			signedBody = body
		}
		if want := tiktok.SignAPI([]byte(appSecret), req.URL.Path, q, signedBody); !strings.EqualFold(q.Get("sign"), want) {
			t.Fatalf("accepted %s %s?%s with a wrong sign", method, path, query)
		}
	})
}
