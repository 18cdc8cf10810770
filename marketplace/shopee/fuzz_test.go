package shopee

import (
	"strings"
	"testing"

	"github.com/orderlane/orderlane/marketplace/internal/pushtest"
	"github.com/orderlane/orderlane/order"
)

var parseSeeds = []string{
	vectorBody,
	`{"shop_id":"336094210","code":"3","timestamp":"1765689440","data":{"ordersn":"A1","status":"SHIPPED","update_time":1765689439123}}`,
	`{"shop_id":336094210,"code":4,"timestamp":1765689440,"data":{"ordersn":"A1","forder_id":"5","package_number":"OFG1","tracking_no":"SPX123"}}`,
	`{"shop_id":336094210,"code":15,"data":{"ordersn":"A1","package_number":"OFG1","status":"READY"}}`,
	`{"shop_id":336094210,"code":29,"data":{"ordersn":"A1","return_sn":"R1","status":"REQUESTED","update_time":1765689439}}`,
	`{"shop_id":336094210,"code":30,"data":{"ordersn":"A1","package_number":"OFG1"}}`,
	`{"code":0,"data":{"verify_info":"This is a Verification message.Please respond in the certain format."}}`,
	`{"shop_id":123,"code":1,"success":1,"extra":"shop_id 123 is authorized successfully","data":{"more_info":"more info"},"timestamp":1470198856}`,
	`{"code":12,"data":{"expire_before":1470198856}}`,
	`{"code":3,"shop_id":1,"data":{"ordersn":"A\u0000:B\u0085","status":"\u00e9"}}`,
	`{"code":3.0,"shop_id":1e3,"data":{"ordersn":1.5}}`,
	`[]`,
	`null`,
	``,
}

// FuzzParse checks that Parse never panics, fails only with ErrMalformed,
// and returns events that the rest of the pipeline can rely on.
func FuzzParse(f *testing.F) {
	pushtest.FuzzParse(f, parseSeeds, parseAtReceived, order.Shopee)
}

// parseAtReceived parses body as received at receivedAt.
func parseAtReceived(body []byte) (order.Event, error) {
	return Parse(body, receivedAt)
}

// FuzzVerify checks that Verify never panics, accepts exactly the signature
// SignPush produces for the same URL, key and body (in either case), and
// returns only the documented errors.
func FuzzVerify(f *testing.F) {
	f.Add(vectorURL, []byte(vectorKey), []byte(vectorBody), vectorSig)
	f.Add(vectorURL, []byte(vectorKey), []byte(vectorBody), strings.ToUpper(vectorSig))
	f.Add(vectorURL, []byte("k"), []byte(`{"code":0}`), "")
	f.Add("", []byte{}, []byte{}, "zz")
	f.Add("https://x/y", []byte("k"), []byte("{}"), " "+strings.Repeat("0", 64)+" ")
	pushtest.FuzzVerify(f,
		func(url string, key []byte) pushtest.VerifyFunc { return NewVerifier(url, key).Verify },
		SignPush,
		func(url string, key []byte) pushtest.VerifyFunc {
			return NewVerifier(url, []byte("fallback"), key).Verify
		})
}
