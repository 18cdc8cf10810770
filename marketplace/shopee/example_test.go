package shopee_test

import (
	"fmt"
	"time"

	"github.com/orderlane/orderlane/marketplace/shopee"
)

func Example() {
	const url = "https://example.com/webhook/shopee"
	body := []byte(`{"msg_id":"64ca21a145e29bda3a6e31203c800e00","data":{"completed_scenario":null,"items":[],"ordersn":"251214B9XAB0ST","status":"READY_TO_SHIP","update_time":1765689439},"shop_id":336094210,"code":3,"timestamp":1765689440}`)
	signature := shopee.SignPush(url, []byte("test_push_partner_key"), body) // sent in Authorization

	v := shopee.NewVerifier(url, []byte("test_push_partner_key"), []byte("test_partner_key"))
	if err := v.Verify(signature, body); err != nil {
		fmt.Println(err)
		return
	}
	ev, err := shopee.Parse(body, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Group(), ev.Kind, ev.Status, ev.UpdateTime, ev.Key)
	// Output: shopee:336094210:251214B9XAB0ST order_status ready_to_ship 2025-12-14 05:17:19 +0000 UTC shopee:64ca21a145e29bda3a6e31203c800e00
}
