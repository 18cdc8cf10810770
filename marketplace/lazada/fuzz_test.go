package lazada

import (
	"strings"
	"testing"

	"github.com/orderlane/orderlane/marketplace/internal/pushtest"
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
	pushtest.FuzzParse(f, parseSeeds, parseAtReceived, order.Lazada)
}

// parseAtReceived parses body as received at receivedAt.
func parseAtReceived(body []byte) (order.Event, error) {
	return Parse(body, receivedAt)
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
	pushtest.FuzzVerify(f,
		func(appKey string, secret []byte) pushtest.VerifyFunc { return NewVerifier(appKey, secret).Verify },
		SignPush,
		nil)
}
