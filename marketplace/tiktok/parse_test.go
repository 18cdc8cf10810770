package tiktok

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace/internal/pushtest"
	"github.com/orderlane/orderlane/marketplace/internal/pushwire"
	"github.com/orderlane/orderlane/order"
)

var receivedAt = time.Date(2022, 2, 9, 13, 21, 26, 0, time.UTC)

var hashKeyRE = regexp.MustCompile(`^tiktok:h:[0-9a-f]{32}$`)

func mustParse(t *testing.T, body string) order.Event {
	t.Helper()
	return pushtest.MustParse(t, parseAtReceived, body)
}

// checkFields compares ev with want field by field, times with Equal; an
// empty want.Key is not compared.
func checkFields(t *testing.T, ev, want order.Event) {
	t.Helper()
	pushtest.CheckFields(t, ev, want)
}

func TestParseDocOrderStatus(t *testing.T) {
	t.Parallel()
	body := []byte(vectorBody)
	ev, err := Parse(body, receivedAt)
	if err != nil {
		t.Fatal(err)
	}
	checkFields(t, ev, order.Event{
		Platform:       order.TikTok,
		ShopID:         "7494049642642441621",
		OrderID:        "576486316948490001",
		Kind:           order.KindStatus,
		PushType:       "1",
		PlatformStatus: "UNPAID",
		Status:         order.StatusUnpaid,
		UpdateTime:     time.Date(2022, 2, 9, 13, 21, 25, 0, time.UTC),
		Key:            "tiktok:7327112393057371910",
		ReceivedAt:     receivedAt,
	})
	if !bytes.Equal(ev.Payload, body) || ev.UpdateTime.Location() != time.UTC {
		t.Fatalf("Payload %s UpdateTime %v", ev.Payload, ev.UpdateTime)
	}
	if g := ev.Group(); g != "tiktok:7494049642642441621:576486316948490001" {
		t.Fatalf("Group = %q", g)
	}
}

func TestParsePayloadIsACopy(t *testing.T) {
	t.Parallel()
	body := []byte(vectorBody)
	ev, err := Parse(body, receivedAt)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = '0'
	}
	if string(ev.Payload) != vectorBody || ev.ShopID != "7494049642642441621" || ev.OrderID != "576486316948490001" ||
		ev.Key != "tiktok:7327112393057371910" {
		t.Fatalf("event changed with the caller's buffer: %+v", ev)
	}
}

func TestParseKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want order.Event
	}{
		{
			name: "order status, numeric ids, ms update time",
			body: `{"type":1,"shop_id":7494049642642441621,"timestamp":"1644412885","data":{"order_id":576486316948490001,"order_status":"AWAITING_SHIPMENT","update_time":1644412885123}}`,
			want: order.Event{ShopID: "7494049642642441621", OrderID: "576486316948490001", Kind: order.KindStatus, PushType: "1",
				PlatformStatus: "AWAITING_SHIPMENT", Status: order.StatusReadyToShip, UpdateTime: time.UnixMilli(1644412885123)},
		},
		{
			name: "order status, unmapped",
			body: `{"type":1,"shop_id":"1","data":{"order_id":"2","order_status":"SOMETHING_NEW","update_time":1644412885}}`,
			want: order.Event{ShopID: "1", OrderID: "2", Kind: order.KindStatus, PushType: "1",
				PlatformStatus: "SOMETHING_NEW", Status: order.StatusUnknown, UpdateTime: time.Unix(1644412885, 0)},
		},
		{
			name: "recipient address update (documented without tts_notification_id)",
			body: `{"type":3,"shop_id":"7494049642642441621","timestamp":1644412885,"data":{"order_id":"576486316948490001","update_time":1644412885}}`,
			want: order.Event{ShopID: "7494049642642441621", OrderID: "576486316948490001", Kind: order.KindAddress, PushType: "3",
				UpdateTime: time.Unix(1644412885, 0)},
		},
		{
			name: "package update with order_id",
			body: `{"type":4,"shop_id":"1","data":{"order_id":"2","package_id":"P","update_time":1644412885}}`,
			want: order.Event{ShopID: "1", OrderID: "2", Kind: order.KindPackage, PushType: "4", UpdateTime: time.Unix(1644412885, 0)},
		},
		{
			name: "package update, one order in package_list",
			body: `{"type":4,"shop_id":"1","data":{"sc_type":"SPLIT","role_type":"ROLE_SELLER","package_list":[{"package_id":"1","order_id_list":["152523"]},{"package_id":"2","order_id_list":[152523]}],"update_time":1644412885}}`,
			want: order.Event{ShopID: "1", OrderID: "152523", Kind: order.KindPackage, PushType: "4", UpdateTime: time.Unix(1644412885, 0)},
		},
		{
			name: "package update across orders (documented) is a notice",
			body: `{"type":4,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"sc_type":"COMBINE","role_type":"ROLE_USER","package_list":[{"package_id":"123456","order_id_list":["152523","532123"]}],"update_time":1644412885}}`,
			want: order.Event{ShopID: "7494049642642441621", Kind: order.KindNotice, PushType: "4", Key: "tiktok:7327112393057371910"},
		},
		{
			name: "package update naming no order is a notice",
			body: `{"type":4,"shop_id":"1","data":{"package_list":[]}}`,
			want: order.Event{ShopID: "1", Kind: order.KindNotice, PushType: "4"},
		},
		{
			name: "cancellation (documented)",
			body: `{"type":11,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"order_id":"576486316948490001","cancellations_role":"BUYER","cancel_status":"CANCELLATION_REQUEST_PENDING","cancel_id":"4035318504086604100","create_time":1627587600}}`,
			want: order.Event{ShopID: "7494049642642441621", OrderID: "576486316948490001", Kind: order.KindCancellation, PushType: "11",
				PlatformStatus: "CANCELLATION_REQUEST_PENDING", Key: "tiktok:7327112393057371910"},
		},
		{
			name: "return",
			body: `{"type":12,"tts_notification_id":"7327112393057371911","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"order_id":"576486316948490001","return_role":"BUYER","return_type":"REFUND","return_status":"RETURN_OR_REFUND_REQUEST_PENDING","return_id":"576486316948490001","create_time":1627587600,"update_time":1644412885}}`,
			want: order.Event{ShopID: "7494049642642441621", OrderID: "576486316948490001", Kind: order.KindReturn, PushType: "12",
				PlatformStatus: "RETURN_OR_REFUND_REQUEST_PENDING", UpdateTime: time.Unix(1644412885, 0), Key: "tiktok:7327112393057371911"},
		},
		{
			name: "seller deauthorisation",
			body: `{"type":6,"tts_notification_id":"73","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"reason":"seller revoked"}}`,
			want: order.Event{ShopID: "7494049642642441621", Kind: order.KindNotice, PushType: "6", Key: "tiktok:73"},
		},
		{
			name: "authorisation expiry",
			body: `{"type":7,"shop_id":"7494049642642441621","timestamp":1644412885,"data":{"message":"Authorization of shop_id 1 is expirating in 3 days.","expiration_time":"1627587506"}}`,
			want: order.Event{ShopID: "7494049642642441621", Kind: order.KindNotice, PushType: "7"},
		},
		{
			name: "unknown type without shop",
			body: `{"type":20,"creator_open_id":"VIyStQAAAADC","tts_notification_id":"7327112393057371910","timestamp":1644412885,"data":{"cancel_time":1644412885}}`,
			want: order.Event{Kind: order.KindNotice, PushType: "20", Key: "tiktok:7327112393057371910"},
		},
		{
			name: "unknown type with odd data",
			body: `{"type":"99","shop_id":"5","data":[null]}`,
			want: order.Event{ShopID: "5", Kind: order.KindNotice, PushType: "99"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := mustParse(t, tt.body)
			want := tt.want
			want.Platform, want.ReceivedAt = order.TikTok, receivedAt
			if !want.UpdateTime.IsZero() {
				want.UpdateTime = want.UpdateTime.UTC()
			}
			checkFields(t, ev, want)
			if want.Key == "" && !hashKeyRE.MatchString(ev.Key) {
				t.Fatalf("Key = %q, want a hash key", ev.Key)
			}
			if string(ev.Payload) != tt.body {
				t.Fatalf("Payload = %s", ev.Payload)
			}
		})
	}
}

func TestParseGroup(t *testing.T) {
	t.Parallel()
	pushtest.CheckGroups(t, parseAtReceived, map[string]string{
		vectorBody: "tiktok:7494049642642441621:576486316948490001",
		`{"type":11,"shop_id":"1","data":{"order_id":"2","cancel_status":"CANCELLATION_REQUEST_SUCCESS"}}`: "tiktok:1:2",
		`{"type":6,"shop_id":"1"}`: "tiktok:1:",
		`{"type":20,"data":{}}`:    "tiktok::",
	})
}

func TestParseMalformed(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("7", pushwire.MaxIDLen+1)
	tests := map[string]string{
		"empty":                        ``,
		"not JSON":                     `type=1`,
		"array":                        `[{"type":1}]`,
		"string":                       `"{}"`,
		"null":                         `null`,
		"missing type":                 `{"shop_id":"1","data":{"order_id":"2"}}`,
		"non-numeric type":             `{"type":"ORDER_STATUS_CHANGE","shop_id":"1","data":{"order_id":"2"}}`,
		"fractional type":              `{"type":1.5,"shop_id":"1","data":{"order_id":"2"}}`,
		"missing shop_id":              `{"type":1,"data":{"order_id":"2","order_status":"UNPAID"}}`,
		"shop_id with colon":           `{"type":1,"shop_id":"1:2","data":{"order_id":"2"}}`,
		"shop_id too long":             `{"type":1,"shop_id":"` + long + `","data":{"order_id":"2"}}`,
		"shop_id array":                `{"type":1,"shop_id":["1"],"data":{"order_id":"2"}}`,
		"bad shop_id on a notice":      `{"type":6,"shop_id":"a\u001fb"}`,
		"missing data":                 `{"type":1,"shop_id":"1"}`,
		"string data":                  `{"type":1,"shop_id":"1","data":"{}"}`,
		"missing order_id":             `{"type":1,"shop_id":"1","data":{"order_status":"UNPAID"}}`,
		"missing order_id, address":    `{"type":3,"shop_id":"1","data":{"update_time":1644412885}}`,
		"missing order_id, cancel":     `{"type":11,"shop_id":"1","data":{"cancel_status":"CANCELLATION_REQUEST_PENDING"}}`,
		"empty order_id":               `{"type":12,"shop_id":"1","data":{"order_id":""}}`,
		"order_id with colon":          `{"type":1,"shop_id":"1","data":{"order_id":"57:1"}}`,
		"order_id with DEL":            `{"type":1,"shop_id":"1","data":{"order_id":"57\u007f"}}`,
		"order_id too long":            `{"type":1,"shop_id":"1","data":{"order_id":"` + long + `"}}`,
		"order_id float":               `{"type":1,"shop_id":"1","data":{"order_id":5.7e17}}`,
		"package order id with colon":  `{"type":4,"shop_id":"1","data":{"package_list":[{"order_id_list":["1:2"]}]}}`,
		"non-string order_status":      `{"type":1,"shop_id":"1","data":{"order_id":"2","order_status":["UNPAID"]}}`,
		"cancel_status too long":       `{"type":11,"shop_id":"1","data":{"order_id":"2","cancel_status":"` + long + `"}}`,
		"cancel_id object":             `{"type":11,"shop_id":"1","data":{"order_id":"2","cancel_id":{}}}`,
		"non-numeric update_time":      `{"type":1,"shop_id":"1","data":{"order_id":"2","update_time":"2022-02-09T13:21:25Z"}}`,
		"non-numeric timestamp":        `{"type":6,"shop_id":"1","timestamp":"x"}`,
		"tts_notification_id object":   `{"type":1,"shop_id":"1","tts_notification_id":{},"data":{"order_id":"2"}}`,
		"tts_notification_id too long": `{"type":6,"shop_id":"1","tts_notification_id":"` + long + `"}`,
	}
	pushtest.RunMalformed(t, parseAtReceived, tests)
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	key := func(body string) string { return mustParse(t, body).Key }
	if got := key(vectorBody); got != "tiktok:7327112393057371910" {
		t.Fatalf("Key = %q, want the notification id", got)
	}
	if got := key(`{"type":1,"tts_notification_id":7327112393057371910,"shop_id":"1","data":{"order_id":"2"}}`); got != "tiktok:7327112393057371910" {
		t.Fatalf("Key with a numeric notification id = %q", got)
	}
	noID := strings.Replace(vectorBody, `"tts_notification_id":"7327112393057371910",`, ``, 1)
	k := key(noID)
	if !hashKeyRE.MatchString(k) {
		t.Fatalf("Key without notification id = %q", k)
	}
	same := map[string]string{
		"same push":             noID,
		"empty notification id": strings.Replace(vectorBody, `"7327112393057371910"`, `""`, 1),
		"resent later, re-serialised": `{"data":{"update_time":1644412885,"order_status":"UNPAID","order_id":576486316948490001},
			"timestamp":1644419999,"shop_id":7494049642642441621,"type":"1"}`,
	}
	pushtest.CheckKeysSame(t, key, k, same)
	differ := map[string]string{
		"other status":      strings.Replace(noID, `"UNPAID"`, `"ON_HOLD"`, 1),
		"other update time": strings.Replace(noID, `"update_time":1644412885`, `"update_time":1644412886`, 1),
		"other order":       strings.Replace(noID, `576486316948490001`, `576486316948490002`, 1),
		"other shop":        strings.Replace(noID, `7494049642642441621`, `7494049642642441622`, 1),
	}
	pushtest.CheckKeysDiffer(t, key, noID, k, differ)
	c := `{"type":11,"shop_id":"1","data":{"order_id":"2","cancel_status":"CANCELLATION_REQUEST_PENDING","cancel_id":"%s"}}`
	if key(strings.Replace(c, "%s", "1", 1)) == key(strings.Replace(c, "%s", "2", 1)) {
		t.Errorf("cancellations with other cancel ids share a key")
	}
	p := `{"type":4,"shop_id":"1","data":{"sc_type":"%s","package_list":[{"package_id":"9","order_id_list":["2"]}]}}`
	if key(strings.Replace(p, "%s", "SPLIT", 1)) == key(strings.Replace(p, "%s", "CANCEL_SPLIT", 1)) {
		t.Errorf("package updates with other data share a key")
	}
}
