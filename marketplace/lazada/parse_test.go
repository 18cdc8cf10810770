package lazada

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

var receivedAt = time.Date(2020, 10, 27, 2, 47, 40, 0, time.UTC)

var hashKeyRE = regexp.MustCompile(`^lazada:h:[0-9a-f]{32}$`)

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

func TestParseDocTradeOrder(t *testing.T) {
	t.Parallel()
	body := []byte(tradeOrderBody)
	ev, err := Parse(body, receivedAt)
	if err != nil {
		t.Fatal(err)
	}
	checkFields(t, ev, order.Event{
		Platform:       order.Lazada,
		ShopID:         "1234567",
		OrderID:        "260422900198363",
		Kind:           order.KindStatus,
		PushType:       "0",
		PlatformStatus: "unpaid",
		Status:         order.StatusUnpaid,
		UpdateTime:     time.Date(2020, 10, 26, 7, 50, 38, 0, time.UTC),
		ReceivedAt:     receivedAt,
	})
	if !hashKeyRE.MatchString(ev.Key) {
		t.Fatalf("Key = %q", ev.Key)
	}
	if !bytes.Equal(ev.Payload, body) {
		t.Fatalf("Payload = %s", ev.Payload)
	}
	if ev.UpdateTime.Location() != time.UTC {
		t.Fatalf("UpdateTime not in UTC")
	}
	if g := ev.Group(); g != "lazada:1234567:260422900198363" {
		t.Fatalf("Group = %q", g)
	}
}

func TestParseNumericIDs(t *testing.T) {
	t.Parallel()
	str := mustParse(t, tradeOrderBody)
	// The same push with numeric ids, a numeric-string message_type and a
	// timestamp in seconds.
	num := mustParse(t, `{"seller_id":1234567,"message_type":"0","data":{"order_status":"unpaid","trade_order_id":260422900198363,"trade_order_line_id":260422900298363,"status_update_time":1603698638},"timestamp":1603766859,"site":"lazada_vn"}`)
	if num.ShopID != "1234567" || num.OrderID != "260422900198363" || num.PushType != "0" {
		t.Fatalf("numeric ids: %+v", num)
	}
	if num.Key != str.Key || num.Group() != str.Group() || !num.UpdateTime.Equal(str.UpdateTime) {
		t.Fatalf("numeric and string ids differ: key %q vs %q, group %q vs %q", num.Key, str.Key, num.Group(), str.Group())
	}
	big := mustParse(t, `{"seller_id":9007199254740993,"message_type":0,"data":{"order_status":"shipped","trade_order_id":18446744073709551617}}`)
	if big.ShopID != "9007199254740993" || big.OrderID != "18446744073709551617" {
		t.Fatalf("large ids not kept digit for digit: %q, %q", big.ShopID, big.OrderID)
	}
}

func TestParsePayloadIsACopy(t *testing.T) {
	t.Parallel()
	body := []byte(tradeOrderBody)
	ev, err := Parse(body, receivedAt)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = ' '
	}
	if string(ev.Payload) != tradeOrderBody || ev.ShopID != "1234567" || ev.OrderID != "260422900198363" {
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
			name: "trade order for a return (documented with message_type 0)",
			body: `{"seller_id":"1000114855","message_type":0,"data":{"order_status":"returned","reverse_order_id":"501977696648153","reverse_order_line_id":"502491640048153","status_update_time":1603703663,"trade_order_id":"252883361348153","trade_order_line_id":"252883361948153"},"timestamp":1603715010436,"site":"lazada_vn"}`,
			want: order.Event{ShopID: "1000114855", OrderID: "252883361348153", Kind: order.KindStatus, PushType: "0",
				PlatformStatus: "returned", Status: order.StatusReturned, UpdateTime: time.Unix(1603703663, 0)},
		},
		{
			name: "trade order, status in ms, unmapped status",
			body: `{"seller_id":"1","message_type":0,"data":{"order_status":"lost_by_3pl","trade_order_id":"9","status_update_time":1603698638123}}`,
			want: order.Event{ShopID: "1", OrderID: "9", Kind: order.KindStatus, PushType: "0",
				PlatformStatus: "lost_by_3pl", Status: order.StatusUnknown, UpdateTime: time.UnixMilli(1603698638123)},
		},
		{
			name: "trade order without status",
			body: `{"seller_id":"1","message_type":0,"data":{"trade_order_id":"9"}}`,
			want: order.Event{ShopID: "1", OrderID: "9", Kind: order.KindStatus, PushType: "0"},
		},
		{
			name: "reverse order, return (documented)",
			body: `{"seller_id":"12345","message_type":10,"data":{"reverse_order_id":658960600102006,"reverse_status":"RTM_INIT","trade_order_id":416557324702006,"extraParams":{},"trade_order_line_id":416557324802006,"buyer_id":100112802006,"seller_id":1000143772,"reverse_order_line_id":663790000102006,"status_update_time":1626767698},"timestamp":1627889609,"site":"lazada_sg"}`,
			want: order.Event{ShopID: "12345", OrderID: "416557324702006", Kind: order.KindReturn, PushType: "10",
				PlatformStatus: "RTM_INIT", UpdateTime: time.Unix(1626767698, 0)},
		},
		{
			name: "reverse order, cancellation",
			body: `{"seller_id":"12345","message_type":10,"data":{"reverse_status":"CANCEL_SUCCESS","trade_order_id":"4165","trade_order_line_id":"4166","reverse_order_line_id":"6637"}}`,
			want: order.Event{ShopID: "12345", OrderID: "4165", Kind: order.KindCancellation, PushType: "10", PlatformStatus: "CANCEL_SUCCESS"},
		},
		{
			name: "reverse order, refund",
			body: `{"seller_id":"12345","message_type":10,"data":{"reverse_status":"REFUND_SUCCESS","trade_order_id":"4165"}}`,
			want: order.Event{ShopID: "12345", OrderID: "4165", Kind: order.KindReturn, PushType: "10", PlatformStatus: "REFUND_SUCCESS"},
		},
		{
			name: "reverse order, seller only inside data",
			body: `{"message_type":10,"data":{"reverse_status":"CANCEL_INIT","trade_order_id":"4165","seller_id":1000143772}}`,
			want: order.Event{ShopID: "1000143772", OrderID: "4165", Kind: order.KindCancellation, PushType: "10", PlatformStatus: "CANCEL_INIT"},
		},
		{
			name: "authorisation expiry: seller_id \"null\", the real one in data",
			body: `{"seller_id":"null","message_type":8,"data":{"app_key":"115527","auth_expiry_time":1627542238,"seller_id":"1000165972"},"timestamp":1627416758,"site":"lazada_ph"}`,
			want: order.Event{ShopID: "1000165972", Kind: order.KindNotice, PushType: "8"},
		},
		{
			name: "category update: broadcast, no seller",
			body: `{"message_type":12,"data":{"status":"finish","status_update_time":1627203600000},"timestamp":1627203600,"site":"lazada_sg"}`,
			want: order.Event{Kind: order.KindNotice, PushType: "12"},
		},
		{
			name: "fulfilment order update is not parsed (yet)",
			body: `{"seller_id":"100056775","message_type":14,"data":{"trade_order_id":"57244869716603","fulfillment_package_id":"FP018711048499663","status":"DELIVERED","status_update_time":1627440482},"timestamp":1627441249,"site":"lazada_sg"}`,
			want: order.Event{ShopID: "100056775", Kind: order.KindNotice, PushType: "14"},
		},
		{
			name: "notice with an unusable data.seller_id",
			body: `{"message_type":8,"data":{"seller_id":"a:b"}}`,
			want: order.Event{Kind: order.KindNotice, PushType: "8"},
		},
		{
			name: "unknown type with non-object data",
			body: `{"seller_id":7,"message_type":99,"data":"something new"}`,
			want: order.Event{ShopID: "7", Kind: order.KindNotice, PushType: "99"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := mustParse(t, tt.body)
			want := tt.want
			want.Platform, want.ReceivedAt = order.Lazada, receivedAt
			if !want.UpdateTime.IsZero() {
				want.UpdateTime = want.UpdateTime.UTC()
			}
			checkFields(t, ev, want)
			if !hashKeyRE.MatchString(ev.Key) {
				t.Fatalf("Key = %q", ev.Key)
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
		tradeOrderBody: "lazada:1234567:260422900198363",
		`{"seller_id":"12345","message_type":10,"data":{"reverse_status":"RTM_INIT","trade_order_id":416557324702006}}`: "lazada:12345:416557324702006",
		`{"seller_id":"12345","message_type":13,"data":{"status":"normal"}}`:                                            "lazada:12345:",
		`{"message_type":12,"data":{}}`: "lazada::",
	})
}

func TestParseMalformed(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("1", pushwire.MaxIDLen+1)
	tests := map[string]string{
		"empty":                     ``,
		"not JSON":                  `seller_id=1`,
		"the doc's elided body":     docBody,
		"array":                     `[{"message_type":0}]`,
		"number":                    `0`,
		"null":                      `null`,
		"missing message_type":      `{"seller_id":"1","data":{"trade_order_id":"9"}}`,
		"non-numeric message_type":  `{"message_type":"zero","seller_id":"1","data":{"trade_order_id":"9"}}`,
		"fractional message_type":   `{"message_type":0.5,"seller_id":"1","data":{"trade_order_id":"9"}}`,
		"missing seller_id":         `{"message_type":0,"data":{"trade_order_id":"9","order_status":"unpaid"}}`,
		"seller_id \"null\" only":   `{"seller_id":"null","message_type":0,"data":{"trade_order_id":"9"}}`,
		"seller_id with colon":      `{"seller_id":"a:b","message_type":0,"data":{"trade_order_id":"9"}}`,
		"seller_id object":          `{"seller_id":{},"message_type":0,"data":{"trade_order_id":"9"}}`,
		"seller_id float":           `{"seller_id":1.5,"message_type":0,"data":{"trade_order_id":"9"}}`,
		"seller_id too long":        `{"seller_id":"` + long + `","message_type":0,"data":{"trade_order_id":"9"}}`,
		"bad seller_id on a notice": `{"seller_id":"x\u0000","message_type":8}`,
		"missing data":              `{"seller_id":"1","message_type":0}`,
		"array data":                `{"seller_id":"1","message_type":10,"data":[]}`,
		"missing trade_order_id":    `{"seller_id":"1","message_type":0,"data":{"order_status":"unpaid"}}`,
		"empty trade_order_id":      `{"seller_id":"1","message_type":10,"data":{"trade_order_id":"","reverse_status":"RTM_INIT"}}`,
		"trade_order_id with colon": `{"seller_id":"1","message_type":0,"data":{"trade_order_id":"9:1"}}`,
		"trade_order_id too long":   `{"seller_id":"1","message_type":0,"data":{"trade_order_id":` + long + `}}`,
		"trade_order_id negative":   `{"seller_id":"1","message_type":0,"data":{"trade_order_id":-9}}`,
		"trade_order_id exponent":   `{"seller_id":"1","message_type":0,"data":{"trade_order_id":2.6e14}}`,
		"line id object":            `{"seller_id":"1","message_type":0,"data":{"trade_order_id":"9","trade_order_line_id":{}}}`,
		"non-string status":         `{"seller_id":"1","message_type":0,"data":{"trade_order_id":"9","order_status":1}}`,
		"non-numeric update time":   `{"seller_id":"1","message_type":0,"data":{"trade_order_id":"9","status_update_time":"2020-10-26"}}`,
		"negative update time":      `{"seller_id":"1","message_type":0,"data":{"trade_order_id":"9","status_update_time":-1}}`,
		"non-numeric timestamp":     `{"seller_id":"1","message_type":0,"timestamp":"soon","data":{"trade_order_id":"9"}}`,
	}
	pushtest.RunMalformed(t, parseAtReceived, tests)
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	key := func(body string) string { return mustParse(t, body).Key }
	k := key(tradeOrderBody)
	same := map[string]string{
		"same push": tradeOrderBody,
		"resent later, re-serialised": `{"site":"lazada_vn","timestamp":1603767999000,"message_type":0,"seller_id":"1234567",
			"data":{"trade_order_line_id":"260422900298363","trade_order_id":"260422900198363","status_update_time":1603698638,"order_status":"unpaid"}}`,
		"numeric ids": `{"seller_id":1234567,"message_type":0,"data":{"order_status":"unpaid","trade_order_id":260422900198363,"trade_order_line_id":260422900298363,"status_update_time":1603698638}}`,
	}
	pushtest.CheckKeysSame(t, key, k, same)
	differ := map[string]string{
		"other order line":  strings.Replace(tradeOrderBody, `"260422900298363"`, `"260422900298364"`, 1),
		"no order line":     strings.Replace(tradeOrderBody, `"trade_order_line_id":"260422900298363",`, ``, 1),
		"other status":      strings.Replace(tradeOrderBody, `"unpaid"`, `"pending"`, 1),
		"other update time": strings.Replace(tradeOrderBody, `1603698638`, `1603698639`, 1),
		"other seller":      strings.Replace(tradeOrderBody, `"1234567"`, `"1234568"`, 1),
		"other order":       strings.Replace(tradeOrderBody, `"260422900198363"`, `"260422900198364"`, 1),
	}
	pushtest.CheckKeysDiffer(t, key, tradeOrderBody, k, differ)

	// Reverse pushes: one per reverse order line.
	rev := `{"seller_id":"1","message_type":10,"data":{"reverse_status":"RTM_INIT","trade_order_id":"9","trade_order_line_id":"91","reverse_order_line_id":"%s","status_update_time":1626767698}}`
	r1, r2 := key(strings.Replace(rev, "%s", "71", 1)), key(strings.Replace(rev, "%s", "72", 1))
	if r1 == r2 {
		t.Errorf("reverse lines 71 and 72 share key %q", r1)
	}
	if r1 == key(strings.Replace(strings.Replace(rev, "%s", "71", 1), "RTM_INIT", "RTM_SHIPPING_BACK", 1)) {
		t.Errorf("reverse statuses share a key")
	}
	// Notices: told apart by their timestamp and data.
	n := `{"seller_id":"1","message_type":13,"timestamp":%s,"data":{"status":"%s"}}`
	n1 := key(strings.NewReplacer("%s", "1").Replace(n))
	if n1 != key(strings.NewReplacer("%s", "1").Replace(n)) || n1 == key(`{"seller_id":"1","message_type":13,"timestamp":2,"data":{"status":"1"}}`) ||
		n1 == key(`{"seller_id":"1","message_type":13,"timestamp":1,"data":{"status":"2"}}`) {
		t.Errorf("notice keys wrong")
	}
}
