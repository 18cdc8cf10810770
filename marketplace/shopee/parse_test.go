package shopee

import (
	"bytes"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace/internal/pushtest"
	"github.com/orderlane/orderlane/marketplace/internal/pushwire"
	"github.com/orderlane/orderlane/order"
)

var receivedAt = time.Date(2025, 12, 14, 5, 17, 21, 0, time.UTC)

var hashKeyRE = regexp.MustCompile(`^shopee:h:[0-9a-f]{32}$`)

func mustParse(t *testing.T, body string) order.Event {
	t.Helper()
	return pushtest.MustParse(t, parseAtReceived, body)
}

func TestParseDocExample(t *testing.T) {
	t.Parallel()
	body := []byte(vectorBody)
	ev, err := Parse(body, receivedAt)
	if err != nil {
		t.Fatal(err)
	}
	want := order.Event{
		Platform:       order.Shopee,
		ShopID:         "336094210",
		OrderID:        "251214B9XAB0ST",
		Kind:           order.KindStatus,
		PushType:       "3",
		PlatformStatus: "READY_TO_SHIP",
		Status:         order.StatusReadyToShip,
		UpdateTime:     time.Date(2025, 12, 14, 5, 17, 19, 0, time.UTC),
		Key:            "shopee:64ca21a145e29bda3a6e31203c800e00",
		ReceivedAt:     receivedAt,
	}
	if !bytes.Equal(ev.Payload, body) {
		t.Fatalf("Payload = %s, want the body", ev.Payload)
	}
	if !ev.UpdateTime.Equal(want.UpdateTime) || !ev.ReceivedAt.Equal(want.ReceivedAt) {
		t.Fatalf("UpdateTime %v ReceivedAt %v, want %v %v", ev.UpdateTime, ev.ReceivedAt, want.UpdateTime, want.ReceivedAt)
	}
	got := ev
	got.Payload, got.UpdateTime, got.ReceivedAt = nil, time.Time{}, time.Time{}
	want.UpdateTime, want.ReceivedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse =\n%+v\nwant\n%+v", ev, want)
	}
	if ev.UpdateTime.Location() != time.UTC {
		t.Fatalf("UpdateTime location = %v, want UTC", ev.UpdateTime.Location())
	}
	if got := ev.Group(); got != "shopee:336094210:251214B9XAB0ST" {
		t.Fatalf("Group = %q", got)
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
		body[i] = 'x'
	}
	if string(ev.Payload) != vectorBody || ev.OrderID != "251214B9XAB0ST" || ev.ShopID != "336094210" ||
		ev.Key != "shopee:64ca21a145e29bda3a6e31203c800e00" {
		t.Fatalf("event changed with the caller's buffer: %+v", ev)
	}
}

func TestParseKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		body       string
		kind       order.Kind
		shop, ord  string
		rawStatus  string
		status     order.Status
		updateTime time.Time
	}{
		{
			name: "order status, shop_id as string",
			body: `{"shop_id":"336094210","code":3,"timestamp":1765689440,"data":{"ordersn":"A1","status":"SHIPPED","update_time":1765689439}}`,
			kind: order.KindStatus, shop: "336094210", ord: "A1", rawStatus: "SHIPPED", status: order.StatusShipped,
			updateTime: time.Unix(1765689439, 0).UTC(),
		},
		{
			name: "order status, code as string, leading zeros in shop_id",
			body: `{"shop_id":"000336094210","code":"3","data":{"ordersn":"A1","status":"COMPLETED","update_time":"1765689439"}}`,
			kind: order.KindStatus, shop: "336094210", ord: "A1", rawStatus: "COMPLETED", status: order.StatusCompleted,
			updateTime: time.Unix(1765689439, 0).UTC(),
		},
		{
			name: "order status, update_time in ms",
			body: `{"shop_id":1,"code":3,"data":{"ordersn":"A1","status":"UNPAID","update_time":1765689439123}}`,
			kind: order.KindStatus, shop: "1", ord: "A1", rawStatus: "UNPAID", status: order.StatusUnpaid,
			updateTime: time.UnixMilli(1765689439123).UTC(),
		},
		{
			name: "order status, unmapped status",
			body: `{"shop_id":1,"code":3,"data":{"ordersn":"A1","status":"INVOICE_PENDING","update_time":1765689439}}`,
			kind: order.KindStatus, shop: "1", ord: "A1", rawStatus: "INVOICE_PENDING", status: order.StatusUnknown,
			updateTime: time.Unix(1765689439, 0).UTC(),
		},
		{
			name: "order status without status",
			body: `{"shop_id":1,"code":3,"data":{"ordersn":"A1"}}`,
			kind: order.KindStatus, shop: "1", ord: "A1",
		},
		{
			name: "tracking number",
			body: `{"shop_id":336094210,"code":4,"timestamp":1765689440,"data":{"ordersn":"A1","forder_id":"5","package_number":"OFG1","tracking_no":"SPX123"}}`,
			kind: order.KindTracking, shop: "336094210", ord: "A1",
		},
		{
			name: "shipping document",
			body: `{"shop_id":336094210,"code":15,"data":{"ordersn":"A1","package_number":"OFG1","status":"READY"}}`,
			kind: order.KindDocument, shop: "336094210", ord: "A1", rawStatus: "READY",
		},
		{
			name: "return",
			body: `{"shop_id":336094210,"code":29,"data":{"ordersn":"A1","return_sn":"R1","status":"REQUESTED","update_time":1765689439}}`,
			kind: order.KindReturn, shop: "336094210", ord: "A1", rawStatus: "REQUESTED",
			updateTime: time.Unix(1765689439, 0).UTC(),
		},
		{
			name: "package",
			body: `{"shop_id":336094210,"code":30,"data":{"ordersn":"A1","package_number":"OFG1"}}`,
			kind: order.KindPackage, shop: "336094210", ord: "A1",
		},
		{
			name: "console verification",
			body: `{"code":0,"data":{"verify_info":"This is a Verification message.Please respond in the certain format."}}`,
			kind: order.KindNotice,
		},
		{
			name: "shop authorization",
			body: `{"shop_id":123,"code":1,"success":1,"extra":"shop_id 123 is authorized successfully","data":{"more_info":"more info"},"timestamp":1470198856}`,
			kind: order.KindNotice, shop: "123",
		},
		{
			name: "authorization cancelled, partner level",
			body: `{"code":2,"data":{"shop_id_list":[1,2]},"timestamp":1470198856}`,
			kind: order.KindNotice,
		},
		{
			name: "authorization expiry, partner level",
			body: `{"code":12,"data":{"expire_before":1470198856},"timestamp":1470198856}`,
			kind: order.KindNotice,
		},
		{
			name: "unknown code with odd data",
			body: `{"code":9999,"shop_id":7,"data":[1,"two",{"ordersn":null}]}`,
			kind: order.KindNotice, shop: "7",
		},
		{
			name: "negative code",
			body: `{"code":-1}`,
			kind: order.KindNotice,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := mustParse(t, tt.body)
			if ev.Platform != order.Shopee || ev.Kind != tt.kind || ev.ShopID != tt.shop || ev.OrderID != tt.ord ||
				ev.PlatformStatus != tt.rawStatus || ev.Status != tt.status || !ev.UpdateTime.Equal(tt.updateTime) {
				t.Fatalf("Parse = %+v\nwant kind %s shop %q order %q raw status %q status %q update %v",
					ev, tt.kind, tt.shop, tt.ord, tt.rawStatus, tt.status, tt.updateTime)
			}
			if !hashKeyRE.MatchString(ev.Key) {
				t.Fatalf("Key = %q, want a hash key", ev.Key)
			}
			if ev.ReceivedAt != receivedAt || string(ev.Payload) != tt.body {
				t.Fatalf("ReceivedAt %v Payload %s", ev.ReceivedAt, ev.Payload)
			}
			if ev.Kind.IsOrder() != (ev.OrderID != "") {
				t.Fatalf("kind %s with order id %q", ev.Kind, ev.OrderID)
			}
		})
	}
}

func TestParsePushType(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"code":0}`:    "0",
		`{"code":"12"}`: "12",
		`{"code":4,"shop_id":1,"data":{"ordersn":"A"}}`: "4",
		`{"code":123456}`: "123456",
	} {
		if got := mustParse(t, body).PushType; got != want {
			t.Errorf("Parse(%s).PushType = %q, want %q", body, got, want)
		}
	}
}

func TestParseGroup(t *testing.T) {
	t.Parallel()
	pushtest.CheckGroups(t, parseAtReceived, map[string]string{
		vectorBody: "shopee:336094210:251214B9XAB0ST",
		`{"code":4,"shop_id":"42","data":{"ordersn":"B-2"}}`: "shopee:42:B-2",
		`{"code":1,"shop_id":42}`:                            "shopee:42:",
		`{"code":0,"data":{}}`:                               "shopee::",
	})
}

func TestParseMalformed(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("9", pushwire.MaxIDLen+1)
	tests := map[string]string{
		"empty":                  ``,
		"not JSON":               `shop_id=1&code=3`,
		"truncated":              `{"code":3,"shop_id":1,"data":{"ordersn":"A"`,
		"trailing garbage":       `{"code":0}x`,
		"array":                  `[{"code":3}]`,
		"string":                 `"code"`,
		"null":                   `null`,
		"missing code":           `{"shop_id":1,"data":{"ordersn":"A"}}`,
		"null code":              `{"code":null,"shop_id":1}`,
		"fractional code":        `{"code":3.5,"shop_id":1}`,
		"non-numeric code":       `{"code":"three","shop_id":1}`,
		"boolean code":           `{"code":true}`,
		"overflowing code":       `{"code":99999999999999999999}`,
		"missing shop_id":        `{"code":3,"data":{"ordersn":"A","status":"UNPAID"}}`,
		"zero shop_id":           `{"code":3,"shop_id":0,"data":{"ordersn":"A"}}`,
		"non-numeric shop_id":    `{"code":3,"shop_id":"shop-1","data":{"ordersn":"A"}}`,
		"negative shop_id":       `{"code":3,"shop_id":-1,"data":{"ordersn":"A"}}`,
		"fractional shop_id":     `{"code":3,"shop_id":1.5,"data":{"ordersn":"A"}}`,
		"object shop_id":         `{"code":3,"shop_id":{"id":1},"data":{"ordersn":"A"}}`,
		"bad shop_id on notice":  `{"code":1,"shop_id":"a:b"}`,
		"long shop_id":           `{"code":3,"shop_id":"` + long + `","data":{"ordersn":"A"}}`,
		"missing data":           `{"code":3,"shop_id":1}`,
		"null data":              `{"code":3,"shop_id":1,"data":null}`,
		"array data":             `{"code":3,"shop_id":1,"data":[]}`,
		"missing order id":       `{"code":3,"shop_id":1,"data":{"status":"UNPAID"}}`,
		"empty order id":         `{"code":4,"shop_id":1,"data":{"ordersn":""}}`,
		"order id with colon":    `{"code":3,"shop_id":1,"data":{"ordersn":"A:B"}}`,
		"order id with NUL":      `{"code":3,"shop_id":1,"data":{"ordersn":"A\u0000"}}`,
		"order id with newline":  `{"code":3,"shop_id":1,"data":{"ordersn":"A\nB"}}`,
		"order id with C1":       `{"code":3,"shop_id":1,"data":{"ordersn":"A\u0085"}}`,
		"order id too long":      `{"code":3,"shop_id":1,"data":{"ordersn":"` + long + `"}}`,
		"order id object":        `{"code":3,"shop_id":1,"data":{"ordersn":{}}}`,
		"order id bool":          `{"code":3,"shop_id":1,"data":{"ordersn":true}}`,
		"non-string status":      `{"code":3,"shop_id":1,"data":{"ordersn":"A","status":3}}`,
		"status with control":    `{"code":3,"shop_id":1,"data":{"ordersn":"A","status":"UN\u0007PAID"}}`,
		"non-numeric time":       `{"code":3,"shop_id":1,"data":{"ordersn":"A","update_time":"yesterday"}}`,
		"negative time":          `{"code":3,"shop_id":1,"data":{"ordersn":"A","update_time":-5}}`,
		"absurd time":            `{"code":3,"shop_id":1,"data":{"ordersn":"A","update_time":1e300}}`,
		"object time":            `{"code":3,"shop_id":1,"data":{"ordersn":"A","update_time":{}}}`,
		"bad envelope timestamp": `{"code":3,"shop_id":1,"timestamp":"now","data":{"ordersn":"A"}}`,
		"object msg_id":          `{"code":3,"shop_id":1,"msg_id":{},"data":{"ordersn":"A"}}`,
		"msg_id with control":    `{"code":3,"shop_id":1,"msg_id":"a\tb","data":{"ordersn":"A"}}`,
	}
	pushtest.RunMalformed(t, parseAtReceived, tests)
}

func TestParseTimes(t *testing.T) {
	t.Parallel()
	want := time.Unix(1765689439, 0).UTC()
	for _, v := range []string{`1765689439`, `"1765689439"`, `1765689439000`, `"1765689439000"`, `1.765689439e9`, `1765689439.0`} {
		ev := mustParse(t, `{"code":3,"shop_id":1,"data":{"ordersn":"A","status":"SHIPPED","update_time":`+v+`}}`)
		if !ev.UpdateTime.Equal(want) || ev.UpdateTime.Location() != time.UTC {
			t.Errorf("update_time %s: UpdateTime = %v, want %v", v, ev.UpdateTime, want)
		}
	}
	for _, v := range []string{`0`, `null`, `""`} {
		ev := mustParse(t, `{"code":3,"shop_id":1,"data":{"ordersn":"A","status":"SHIPPED","update_time":`+v+`}}`)
		if !ev.UpdateTime.IsZero() {
			t.Errorf("update_time %s: UpdateTime = %v, want zero", v, ev.UpdateTime)
		}
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	key := func(body string) string { return mustParse(t, body).Key }
	base := `{"shop_id":1,"code":3,"timestamp":1765689440,"data":{"ordersn":"A","status":"SHIPPED","update_time":1765689439}}`
	k := key(base)
	if !hashKeyRE.MatchString(k) {
		t.Fatalf("Key = %q, want shopee:h:<32 hex>", k)
	}
	same := map[string]string{
		"same push":               base,
		"re-serialised":           "{ \"code\": 3, \"data\": {\"update_time\": 1765689439, \"status\": \"SHIPPED\", \"ordersn\": \"A\"}, \"shop_id\": \"1\" }",
		"resent later":            `{"shop_id":1,"code":3,"timestamp":1765699999,"data":{"ordersn":"A","status":"SHIPPED","update_time":1765689439}}`,
		"with ignored data field": `{"shop_id":1,"code":3,"data":{"completed_scenario":null,"items":[],"ordersn":"A","status":"SHIPPED","update_time":1765689439}}`,
	}
	pushtest.CheckKeysSame(t, key, k, same)
	differ := map[string]string{
		"other shop":        `{"shop_id":2,"code":3,"data":{"ordersn":"A","status":"SHIPPED","update_time":1765689439}}`,
		"other order":       `{"shop_id":1,"code":3,"data":{"ordersn":"B","status":"SHIPPED","update_time":1765689439}}`,
		"other status":      `{"shop_id":1,"code":3,"data":{"ordersn":"A","status":"COMPLETED","update_time":1765689439}}`,
		"other update time": `{"shop_id":1,"code":3,"data":{"ordersn":"A","status":"SHIPPED","update_time":1765689440}}`,
		"other code":        `{"shop_id":1,"code":29,"data":{"ordersn":"A","status":"SHIPPED","update_time":1765689439}}`,
	}
	pushtest.CheckKeysDiffer(t, key, base, k, differ)

	// Codes without a status or time are told apart by their data.
	t1 := key(`{"shop_id":1,"code":4,"data":{"ordersn":"A","package_number":"P1","tracking_no":"T1"}}`)
	t2 := key(`{"shop_id":1,"code":4,"data":{"ordersn":"A","package_number":"P1","tracking_no":"T2"}}`)
	if t1 == t2 || t1 != key(`{"shop_id":1,"code":4,"data":{"ordersn":"A","package_number":"P1","tracking_no":"T1"}}`) {
		t.Errorf("tracking keys: %q, %q", t1, t2)
	}
	// Notices are told apart by their data and timestamp.
	n1 := key(`{"code":12,"timestamp":1,"data":{"x":1}}`)
	if n1 == key(`{"code":12,"timestamp":2,"data":{"x":1}}`) || n1 == key(`{"code":12,"timestamp":1,"data":{"x":2}}`) {
		t.Errorf("notice keys collide")
	}

	// The marketplace's message id wins, prefixed by the platform.
	if got := key(`{"msg_id":"m-1","shop_id":1,"code":3,"data":{"ordersn":"A","status":"SHIPPED","update_time":1765689439}}`); got != "shopee:m-1" {
		t.Errorf("Key with msg_id = %q, want shopee:m-1", got)
	}
	if got := key(`{"msg_id":123,"code":0}`); got != "shopee:123" {
		t.Errorf("Key with numeric msg_id = %q, want shopee:123", got)
	}
	if got := key(`{"msg_id":"","shop_id":1,"code":3,"data":{"ordersn":"A","status":"SHIPPED","update_time":1765689439}}`); got != k {
		t.Errorf("Key with empty msg_id = %q, want the hash key %q", got, k)
	}
}

func TestParseLargeIDsExact(t *testing.T) {
	t.Parallel()
	ev := mustParse(t, `{"shop_id":9007199254740993,"code":4,"data":{"ordersn":260422900198363}}`)
	if ev.ShopID != "9007199254740993" || ev.OrderID != "260422900198363" {
		t.Fatalf("ids = %q, %q; want the exact digits", ev.ShopID, ev.OrderID)
	}
}

func TestParseEscapedStrings(t *testing.T) {
	t.Parallel()
	ev := mustParse(t, `{"shop_id":"\u0031\u0032","code":3,"data":{"ordersn":"A\/B\u00e9","status":"SHIP\u0050ED"}}`)
	if ev.ShopID != "12" || ev.OrderID != "A/Bé" || ev.Status != order.StatusShipped {
		t.Fatalf("Parse = %+v", ev)
	}
}
