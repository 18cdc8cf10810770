package tiktok

import (
	"strings"
	"testing"

	"github.com/orderlane/orderlane/marketplace/internal/pushtest"
	"github.com/orderlane/orderlane/order"
)

var parseSeeds = []string{
	vectorBody,
	`{"type":1,"shop_id":7494049642642441621,"timestamp":"1644412885","data":{"order_id":576486316948490001,"order_status":"AWAITING_SHIPMENT","update_time":1644412885123}}`,
	`{"type":3,"shop_id":"7494049642642441621","timestamp":1644412885,"data":{"order_id":"576486316948490001","update_time":1644412885}}`,
	`{"type":4,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"sc_type":"COMBINE","role_type":"ROLE_USER","package_list":[{"package_id":"123456","order_id_list":["152523","532123"]}],"update_time":1644412885}}`,
	`{"type":4,"shop_id":"1","data":{"package_list":[{"package_id":"1","order_id_list":["152523"]},{"package_id":"2","order_id_list":[152523]}]}}`,
	`{"type":11,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"order_id":"576486316948490001","cancellations_role":"BUYER","cancel_status":"CANCELLATION_REQUEST_PENDING","cancel_id":"4035318504086604100","create_time":1627587600}}`,
	`{"type":12,"tts_notification_id":"7327112393057371911","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"order_id":"576486316948490001","return_role":"BUYER","return_type":"REFUND","return_status":"RETURN_OR_REFUND_REQUEST_PENDING","return_id":"576486316948490001","create_time":1627587600,"update_time":1644412885}}`,
	`{"type":6,"tts_notification_id":"73","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"reason":"seller revoked"}}`,
	`{"type":7,"shop_id":"7494049642642441621","timestamp":1644412885,"data":{"message":"expiring","expiration_time":"1627587506"}}`,
	`{"type":1,"shop_id":"1","data":{"order_id":"2\u0000:","order_status":"\u00e9"}}`,
	`[]`,
	``,
}

// FuzzParse checks that Parse never panics, fails only with ErrMalformed,
// and returns events that the rest of the pipeline can rely on.
func FuzzParse(f *testing.F) {
	pushtest.FuzzParse(f, parseSeeds, parseAtReceived, order.TikTok)
}

// parseAtReceived parses body as received at receivedAt.
func parseAtReceived(body []byte) (order.Event, error) {
	return Parse(body, receivedAt)
}

// FuzzVerify checks that Verify never panics, accepts exactly the signature
// SignPush produces for the same app key, secret and body (in either case),
// and returns only the documented errors.
func FuzzVerify(f *testing.F) {
	f.Add(vectorAppKey, []byte(vectorSecret), []byte(vectorBody), vectorSig)
	f.Add(vectorAppKey, []byte(vectorSecret), []byte(vectorBody), strings.ToUpper(vectorSig))
	f.Add(vectorAppKey, []byte(vectorSecret), []byte(vectorBody), "")
	f.Add("", []byte{}, []byte{}, "zz")
	f.Add("k", []byte("s"), []byte("{}"), " "+strings.Repeat("a", 64)+" ")
	pushtest.FuzzVerify(f,
		func(appKey string, secret []byte) pushtest.VerifyFunc { return NewVerifier(appKey, secret).Verify },
		SignPush,
		nil)
}
