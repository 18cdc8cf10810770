package lazada

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
	tradeOrderBody,
	`{"seller_id":1234567,"message_type":"0","data":{"order_status":"unpaid","trade_order_id":260422900198363,"trade_order_line_id":260422900298363,"status_update_time":1603698638},"timestamp":1603766859,"site":"lazada_vn"}`,
	`{"seller_id":"1000114855","message_type":0,"data":{"order_status":"returned","reverse_order_id":"501977696648153","reverse_order_line_id":"502491640048153","status_update_time":1603703663,"trade_order_id":"252883361348153","trade_order_line_id":"252883361948153"},"timestamp":1603715010436,"site":"lazada_vn"}`,
	`{"seller_id":"12345","message_type":10,"data":{"reverse_order_id":658960600102006,"reverse_status":"RTM_INIT","trade_order_id":416557324702006,"extraParams":{},"trade_order_line_id":416557324802006,"buyer_id":100112802006,"seller_id":1000143772,"reverse_order_line_id":663790000102006,"status_update_time":1626767698},"timestamp":1627889609,"site":"lazada_sg"}`,
	`{"message_type":10,"data":{"reverse_status":"CANCEL_INIT","trade_order_id":"4165","seller_id":1000143772}}`,
	`{"seller_id":"null","message_type":8,"data":{"app_key":"115527","auth_expiry_time":1627542238,"seller_id":"1000165972"},"timestamp":1627416758,"site":"lazada_ph"}`,
	`{"message_type":12,"data":{"status":"finish","status_update_time":1627203600000},"timestamp":1627203600,"site":"lazada_sg"}`,
	`{"seller_id":"1","message_type":0,"data":{"trade_order_id":"9\u0000:","order_status":"\u00e9"}}`,
	docBody,
	`[]`,
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
	if ev.Platform != order.Lazada || !ev.Platform.Valid() {
		t.Fatalf("Platform = %q", ev.Platform)
	}
	if !strings.HasPrefix(ev.Key, "lazada:") || len(ev.Key) == len("lazada:") {
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
	if ev.Status != "" && (!ev.Status.Valid() || ev.Kind != order.KindStatus) {
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
// SignPush produces for the same app key, secret and body (in either case),
// and returns only the documented errors.
func FuzzVerify(f *testing.F) {
	f.Add(docAppKey, []byte(docSecret), []byte(docBody), docSig)
	f.Add(tiktokAppKey, []byte(tiktokSecret), []byte(tiktokBody), strings.ToUpper(tiktokSig))
	f.Add(docAppKey, []byte(docSecret), []byte(tradeOrderBody), "")
	f.Add("", []byte{}, []byte{}, "zz")
	f.Add("k", []byte("s"), []byte("{}"), " "+strings.Repeat("F", 64)+" ")
	f.Fuzz(func(t *testing.T, appKey string, secret, body []byte, sig string) {
		v := NewVerifier(appKey, secret)
		err := v.Verify(sig, body)
		if err != nil && !errors.Is(err, marketplace.ErrBadSignature) && !errors.Is(err, marketplace.ErrMissingSignature) {
			t.Fatalf("Verify returned an undocumented error %v", err)
		}
		good := SignPush(appKey, secret, body)
		if err == nil && (len(secret) == 0 || !strings.EqualFold(strings.TrimSpace(sig), good)) {
			t.Fatalf("Verify accepted %q; SignPush gives %q", sig, good)
		}
		if len(secret) == 0 {
			return
		}
		if err := v.Verify(good, body); err != nil {
			t.Fatalf("Verify(SignPush) = %v", err)
		}
		if err := v.Verify(strings.ToUpper(good), body); err != nil {
			t.Fatalf("Verify(upper-case SignPush) = %v", err)
		}
	})
}
