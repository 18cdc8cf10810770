package lazada_test

import (
	"fmt"
	"time"

	"github.com/orderlane/orderlane/marketplace/lazada"
)

func Example() {
	body := []byte(`{"seller_id":"1234567","message_type":0,"data":{"order_status":"unpaid","trade_order_id":"260422900198363","trade_order_line_id":"260422900298363","status_update_time":1603698638},"timestamp":1603766859530,"site":"lazada_vn"}`)
	signature := lazada.SignPush("123456", []byte("3412gyo124goi3124"), body) // sent in Authorization

	v := lazada.NewVerifier("123456", []byte("3412gyo124goi3124"))
	if err := v.Verify(signature, body); err != nil {
		fmt.Println(err)
		return
	}
	ev, err := lazada.Parse(body, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Group(), ev.Kind, ev.Status, ev.UpdateTime)
	// Output: lazada:1234567:260422900198363 order_status unpaid 2020-10-26 07:50:38 +0000 UTC
}
