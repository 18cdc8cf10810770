package shopeesim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/sandbox/shopeesim"
)

// FuzzHandler checks that the sim answers any request, signed or not,
// with Shopee's JSON envelope and never panics; and that a request it
// accepts carries a valid signature.
func FuzzHandler(f *testing.F) {
	b := setup(f, shopeesim.Config{}, nil)
	b.put("Z1", b.clock.Now(), "MUG")
	ts := b.clock.Now().Unix()
	f.Add("GET", shopee.PathOrderDetail, signedURL(b, partnerKey, shopee.PathOrderDetail, ts, b.shop.Token.AccessToken, shopID, map[string][]string{"order_sn_list": {"Z1"}}).Encode(), []byte(nil))
	f.Add("GET", shopee.PathOrderList, signedURL(b, partnerKey, shopee.PathOrderList, ts, b.shop.Token.AccessToken, shopID, map[string][]string{"time_range_field": {"update_time"}, "time_from": {"0"}, "time_to": {"10"}, "page_size": {"5"}, "cursor": {"x"}}).Encode(), []byte(nil))
	f.Add("POST", shopee.PathTokenGet, signedURL(b, partnerKey, shopee.PathTokenGet, ts, "", "", nil).Encode(), []byte(`{"code":"c","shop_id":1,"partner_id":`+partnerID+`}`))
	f.Add("POST", shopee.PathConfirmLostPush, signedURL(b, partnerKey, shopee.PathConfirmLostPush, ts, "", "", nil).Encode(), []byte(`{"last_message_id":"x"}`))
	f.Add("GET", "/", "partner_id=1&timestamp=x&sign=", []byte(nil))
	h := b.sim.Handler()
	f.Fuzz(func(t *testing.T, method, path, rawQuery string, body []byte) {
		if method != "GET" && method != "POST" {
			method = "GET"
		}
		req := httptest.NewRequest(method, "http://sim/", bytes.NewReader(body))
		req.URL.Path, req.URL.RawQuery = path, rawQuery
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var env struct {
			Error     *string `json:"error"`
			RequestID string  `json:"request_id"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Error == nil || env.RequestID == "" {
			t.Fatalf("answer %d is not Shopee's envelope: %s", w.Code, w.Body.Bytes())
		}
		if w.Code == http.StatusOK && *env.Error == "" {
			q := req.URL.Query()
			ts, _ := strconv.ParseInt(q.Get("timestamp"), 10, 64)
			if q.Get("sign") != shopee.SignAPI(partnerKey, partnerID, path, ts, q.Get("access_token"), q.Get("shop_id")) {
				t.Fatalf("accepted a request without a valid signature: %s?%s", path, rawQuery)
			}
		}
	})
}
