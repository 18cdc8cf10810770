package shopee

import (
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace/internal/pushtest"
	"github.com/orderlane/orderlane/order"
)

// benchBody is a realistic code 3 push of about 500 bytes.
const benchBody = `{"msg_id":"64ca21a145e29bda3a6e31203c800e00","data":{"completed_scenario":null,"items":[{"item_id":23456789012,"model_id":98765432101,"order_item_id":23456789012,"promotion_group_id":0},{"item_id":23456789013,"model_id":98765432102,"order_item_id":23456789013,"promotion_group_id":0},{"item_id":23456789014,"model_id":98765432103,"order_item_id":23456789014,"promotion_group_id":0}],"ordersn":"251214B9XAB0ST","status":"READY_TO_SHIP","update_time":1765689439},"shop_id":336094210,"code":3,"timestamp":1765689440}`

func BenchmarkVerifyAndParse(b *testing.B) {
	body := []byte(benchBody)
	v := NewVerifier(vectorURL, []byte("push_key"))
	sig := SignPush(vectorURL, []byte("push_key"), body)
	now := time.Now()
	pushtest.BenchVerifyAndParse(b, v.Verify, func(body []byte) (order.Event, error) { return Parse(body, now) }, body, sig)
}
