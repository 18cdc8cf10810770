package tiktok

import (
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace/internal/pushtest"
	"github.com/orderlane/orderlane/order"
)

// benchBody is a realistic return status webhook of about 500 bytes.
const benchBody = `{"type":12,"tts_notification_id":"7327112393057371911","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"order_id":"576486316948490001","return_role":"BUYER","return_type":"RETURN_AND_REFUND","return_status":"AWAITING_BUYER_SHIP","return_id":"4035318504086604100","create_time":1627587600,"update_time":1644412885,"return_reason":"ecom_order_delivered_refund_and_return_reason_wrong_item","return_line_items":[{"order_line_item_id":"577087614418520389","sku_id":"1729582718212345678"}]}}`

func BenchmarkVerifyAndParse(b *testing.B) {
	body := []byte(benchBody)
	v := NewVerifier(vectorAppKey, []byte(vectorSecret))
	sig := SignPush(vectorAppKey, []byte(vectorSecret), body)
	now := time.Now()
	pushtest.BenchVerifyAndParse(b, v.Verify, func(body []byte) (order.Event, error) { return Parse(body, now) }, body, sig)
}
