package tiktok_test

import (
	"fmt"
	"time"

	"github.com/orderlane/orderlane/marketplace/tiktok"
)

func Example() {
	body := []byte(`{"type":1,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"order_id":"576486316948490001","order_status":"UNPAID","is_on_hold_order":false,"update_time":1644412885}}`)
	signature := tiktok.SignPush("29a39d", []byte("e59af819cc"), body) // sent in Authorization

	v := tiktok.NewVerifier("29a39d", []byte("e59af819cc"))
	if err := v.Verify(signature, body); err != nil {
		fmt.Println(err)
		return
	}
	ev, err := tiktok.Parse(body, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(signature)
	fmt.Println(ev.Group(), ev.Kind, ev.Status, ev.Key)
	// Output:
	// e21e909414e500178230da539adfc1faddd443124f93a8f67a060568a49620be
	// tiktok:7494049642642441621:576486316948490001 order_status unpaid tiktok:7327112393057371910
}
