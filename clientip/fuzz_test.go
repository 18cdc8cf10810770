package clientip_test

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/orderlane/orderlane/clientip"
)

// FuzzClientIP: whatever X-Forwarded-For holds, the client is the TCP
// peer or an address written in the header, never a trusted one unless
// every hop is trusted, and parsing never panics.
func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"", "203.0.113.1", "1.1.1.1, 203.0.113.1, 10.0.0.2", "[2001:db8::1]:443", "garbage, ,,", "10.0.0.1,10.0.0.2"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	res := clientip.NewResolver(trusted)
	f.Fuzz(func(t *testing.T, xff string, fromProxy bool) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "198.51.100.1:1"
		if fromProxy {
			r.RemoteAddr = "10.9.9.9:1"
		}
		r.Header.Set("X-Forwarded-For", xff)
		got := res.ClientIP(r)
		peer := netip.MustParseAddrPort(r.RemoteAddr).Addr()
		if !fromProxy {
			if got != peer {
				t.Fatalf("untrusted peer: client %v, want the peer %v", got, peer)
			}
			return
		}
		if got != peer && !strings.Contains(xff, strings.Trim(got.String(), "[]")) && !strings.Contains(strings.ToLower(xff), got.String()) {
			// An address printed differently from how it was written
			// (::ffff:1.2.3.4, leading zeros in IPv6) is still one of the
			// header's: check by parsing each entry.
			found := false
			for _, raw := range strings.Split(xff, ",") {
				raw = strings.TrimSpace(raw)
				if a, err := netip.ParseAddr(strings.Trim(raw, "[]")); err == nil && a.Unmap() == got {
					found = true
				}
				if ap, err := netip.ParseAddrPort(raw); err == nil && ap.Addr().Unmap() == got {
					found = true
				}
			}
			if !found {
				t.Fatalf("client %v is neither the peer nor in %q", got, xff)
			}
		}
	})
}
