package lazada

import (
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace/internal/pushtest"
	"github.com/orderlane/orderlane/order"
)

// benchBody is a realistic reverse order push of about 500 bytes.
const benchBody = `{"seller_id":"1000143772","message_type":10,"data":{"reverse_order_id":658960600102006,"reverse_status":"RTM_INIT","trade_order_id":416557324702006,"extraParams":{"reason_code":"10000021","reason_text":"Item does not match description","is_need_refund":"true","refund_amount":"129.90","tracking_number":""},"trade_order_line_id":416557324802006,"buyer_id":100112802006,"seller_id":1000143772,"reverse_order_line_id":663790000102006,"status_update_time":1626767698},"timestamp":1627889609000,"site":"lazada_sg"}`

func BenchmarkVerifyAndParse(b *testing.B) {
	body := []byte(benchBody)
	v := NewVerifier(docAppKey, []byte(docSecret))
	sig := SignPush(docAppKey, []byte(docSecret), body)
	now := time.Now()
	pushtest.BenchVerifyAndParse(b, v.Verify, func(body []byte) (order.Event, error) { return Parse(body, now) }, body, sig)
}
