package tiktok_test

import (
	"fmt"
	"net/url"

	"github.com/orderlane/orderlane/marketplace/tiktok"
)

// The example of TikTok's signing guide: the sign of GET
// /authorization/202309/shops for app 29a39d at timestamp 1623812664.
func ExampleSignAPI() {
	q := url.Values{"app_key": {"29a39d"}, "timestamp": {"1623812664"}}
	fmt.Println(tiktok.SignAPI([]byte("e59af819cc"), "/authorization/202309/shops", q, nil))
	// Output: b596b73e0cc6de07ac26f036364178ab16b0a907af13d43f0a0cd2345f582dc8
}
