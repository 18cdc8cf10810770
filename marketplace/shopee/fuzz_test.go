package shopee

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/internal/pushwire"
	"github.com/orderlane/orderlane/order"
)

var parseSeeds = []string{
	vectorBody,
	`{"shop_id":"336094210","code":"3","timestamp":"1765689440","data":{"ordersn":"A1","status":"SHIPPED","update_time":1765689439123}}`,
	`{"shop_id":336094210,"code":4,"timestamp":1765689440,"data":{"ordersn":"A1","forder_id":"5","package_number":"OFG1","tracking_no":"SPX123"}}`,
	`{"shop_id":336094210,"code":15,"data":{"ordersn":"A1","package_number":"OFG1","status":"READY"}}`,
	`{"shop_id":336094210,"code":29,"data":{"ordersn":"A1","return_sn":"R1","status":"REQUESTED","update_time":1765689439}}`,
	`{"shop_id":336094210,"code":30,"data":{"ordersn":"A1","package_number":"OFG1"}}`,
	`{"code":0,"data":{"verify_info":"This is a Verification message.Please respond in the certain format."}}`,
	`{"shop_id":123,"code":1,"success":1,"extra":"shop_id 123 is authorized successfully","data":{"more_info":"more info"},"timestamp":1470198856}`,
	`{"code":12,"data":{"expire_before":1470198856}}`,
	`{"code":3,"shop_id":1,"data":{"ordersn":"A\u0000:B\u0085","status":"\u00e9"}}`,
	`{"code":3.0,"shop_id":1e3,"data":{"ordersn":1.5}}`,
	`[]`,
	`null`,
	``,
}

// FuzzParse checks that Parse never panics, fails only with ErrMalformed,
// and returns events that the rest of the pipeline can rely on.
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in := bytes.Clone(body)
		ev, err := Parse(body, receivedAt)
		if !bytes.Equal(body, in) {
			t.Fatalf("Parse changed its input")
		}
		if err != nil {
			if !errors.Is(err, marketplace.ErrMalformed) {
				t.Fatalf("Parse error %v does not wrap ErrMalformed", err)
			}
			return
		}
		checkEvent(t, ev, body)
		again, err := Parse(body, receivedAt)
		if err != nil || again.Key != ev.Key || again.Group() != ev.Group() {
			t.Fatalf("Parse is not deterministic: %+v, %v", again, err)
		}
	})
}

// checkEvent asserts the invariants of every parsed event.
func checkEvent(t *testing.T, ev order.Event, body []byte) {
	t.Helper()
	if ev.Platform != order.Shopee || !ev.Platform.Valid() {
		t.Fatalf("Platform = %q", ev.Platform)
	}
	if !strings.HasPrefix(ev.Key, "shopee:") || len(ev.Key) == len("shopee:") {
		t.Fatalf("Key = %q", ev.Key)
	}
	if !bytes.Equal(ev.Payload, body) {
		t.Fatalf("Payload = %q, want the body %q", ev.Payload, body)
	}
	if len(body) > 0 && &ev.Payload[0] == &body[0] {
		t.Fatalf("Payload aliases the body")
	}
	if ev.Kind.IsOrder() != (ev.OrderID != "") {
		t.Fatalf("Kind %q with OrderID %q", ev.Kind, ev.OrderID)
	}
	if ev.Kind.IsOrder() && ev.ShopID == "" {
		t.Fatalf("order kind %q without a shop id", ev.Kind)
	}
	for _, s := range []string{ev.ShopID, ev.OrderID} {
		if strings.ContainsAny(s, ":\x00\n\r") || len(s) > pushwire.MaxIDLen {
			t.Fatalf("id %q is unsafe in a group", s)
		}
	}
	if ev.Status != "" && !ev.Status.Valid() {
		t.Fatalf("Status = %q", ev.Status)
	}
	if ev.Status != "" && ev.Kind != order.KindStatus {
		t.Fatalf("Status %q on kind %q", ev.Status, ev.Kind)
	}
	if ev.PushType == "" {
		t.Fatalf("empty PushType")
	}
	if !ev.UpdateTime.IsZero() && ev.UpdateTime.Location().String() != "UTC" {
		t.Fatalf("UpdateTime %v is not UTC", ev.UpdateTime)
	}
}

// FuzzVerify checks that Verify never panics, accepts exactly the signature
// SignPush produces for the same URL, key and body (in either case), and
// returns only the documented errors.
func FuzzVerify(f *testing.F) {
	f.Add(vectorURL, []byte(vectorKey), []byte(vectorBody), vectorSig)
	f.Add(vectorURL, []byte(vectorKey), []byte(vectorBody), strings.ToUpper(vectorSig))
	f.Add(vectorURL, []byte("k"), []byte(`{"code":0}`), "")
	f.Add("", []byte{}, []byte{}, "zz")
	f.Add("https://x/y", []byte("k"), []byte("{}"), " "+strings.Repeat("0", 64)+" ")
	f.Fuzz(func(t *testing.T, url string, key, body []byte, sig string) {
		v := NewVerifier(url, key)
		err := v.Verify(sig, body)
		if err != nil && !errors.Is(err, marketplace.ErrBadSignature) && !errors.Is(err, marketplace.ErrMissingSignature) {
			t.Fatalf("Verify returned an undocumented error %v", err)
		}
		good := SignPush(url, key, body)
		if err == nil && (len(key) == 0 || !strings.EqualFold(strings.TrimSpace(sig), good)) {
			t.Fatalf("Verify accepted %q; SignPush gives %q", sig, good)
		}
		if len(key) == 0 {
			return
		}
		if err := v.Verify(good, body); err != nil {
			t.Fatalf("Verify(SignPush) = %v", err)
		}
		if err := v.Verify(strings.ToUpper(good), body); err != nil {
			t.Fatalf("Verify(upper-case SignPush) = %v", err)
		}
		if err := NewVerifier(url, []byte("fallback"), key).Verify(good, body); err != nil {
			t.Fatalf("Verify with the key as fallback = %v", err)
		}
	})
}
