package tiktok

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
	`{"type":1,"shop_id":7494049642642441621,"timestamp":"1644412885","data":{"order_id":576486316948490001,"order_status":"AWAITING_SHIPMENT","update_time":1644412885123}}`,
	`{"type":3,"shop_id":"7494049642642441621","timestamp":1644412885,"data":{"order_id":"576486316948490001","update_time":1644412885}}`,
	`{"type":4,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"sc_type":"COMBINE","role_type":"ROLE_USER","package_list":[{"package_id":"123456","order_id_list":["152523","532123"]}],"update_time":1644412885}}`,
	`{"type":4,"shop_id":"1","data":{"package_list":[{"package_id":"1","order_id_list":["152523"]},{"package_id":"2","order_id_list":[152523]}]}}`,
	`{"type":11,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"order_id":"576486316948490001","cancellations_role":"BUYER","cancel_status":"CANCELLATION_REQUEST_PENDING","cancel_id":"4035318504086604100","create_time":1627587600}}`,
	`{"type":12,"tts_notification_id":"7327112393057371911","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"order_id":"576486316948490001","return_role":"BUYER","return_type":"REFUND","return_status":"RETURN_OR_REFUND_REQUEST_PENDING","return_id":"576486316948490001","create_time":1627587600,"update_time":1644412885}}`,
	`{"type":6,"tts_notification_id":"73","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"reason":"seller revoked"}}`,
	`{"type":7,"shop_id":"7494049642642441621","timestamp":1644412885,"data":{"message":"expiring","expiration_time":"1627587506"}}`,
	`{"type":1,"shop_id":"1","data":{"order_id":"2\u0000:","order_status":"\u00e9"}}`,
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
	if ev.Platform != order.TikTok || !ev.Platform.Valid() {
		t.Fatalf("Platform = %q", ev.Platform)
	}
	if !strings.HasPrefix(ev.Key, "tiktok:") || len(ev.Key) == len("tiktok:") {
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
	f.Add(vectorAppKey, []byte(vectorSecret), []byte(vectorBody), vectorSig)
	f.Add(vectorAppKey, []byte(vectorSecret), []byte(vectorBody), strings.ToUpper(vectorSig))
	f.Add(vectorAppKey, []byte(vectorSecret), []byte(vectorBody), "")
	f.Add("", []byte{}, []byte{}, "zz")
	f.Add("k", []byte("s"), []byte("{}"), " "+strings.Repeat("a", 64)+" ")
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
