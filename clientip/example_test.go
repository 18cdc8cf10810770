package clientip_test

import (
	"fmt"
	"net/http/httptest"
	"net/netip"

	"github.com/orderlane/orderlane/clientip"
)

// A load balancer at 10.0.0.5 forwards a request; the client wrote a
// fake address of its own in front of the one the balancer appended.
func ExampleResolver_ClientIP() {
	trusted, _ := clientip.ParsePrefixes("trusted_proxies", []string{"10.0.0.0/8"})
	res := clientip.NewResolver(trusted)
	r := httptest.NewRequest("POST", "/webhooks/shopee", nil)
	r.RemoteAddr = "10.0.0.5:41000"
	r.Header.Set("X-Forwarded-For", "1.2.3.4, 203.0.113.7")
	fmt.Println(res.ClientIP(r))
	fmt.Println(clientip.Contains(trusted, netip.MustParseAddr("10.9.9.9")))
	// Output:
	// 203.0.113.7
	// true
}
