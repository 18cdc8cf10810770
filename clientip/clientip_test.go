package clientip_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/orderlane/orderlane/clientip"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted, err := clientip.ParsePrefixes("trusted_proxies", []string{"10.0.0.0/8", "192.0.2.1", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	res := clientip.NewResolver(trusted)
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
		resolver     *clientip.Resolver
	}{
		{"no proxy trusted: header ignored", "198.51.100.7:5000", []string{"203.0.113.1"}, "198.51.100.7", clientip.NewResolver(nil)},
		{"untrusted peer: header ignored", "198.51.100.7:5000", []string{"203.0.113.1"}, "198.51.100.7", res},
		{"trusted peer, no header", "10.1.2.3:5000", nil, "10.1.2.3", res},
		{"one hop", "10.1.2.3:5000", []string{"203.0.113.1"}, "203.0.113.1", res},
		{"client-written entries left of the client are ignored", "10.1.2.3:5000", []string{"1.1.1.1, 203.0.113.1"}, "203.0.113.1", res},
		{"trusted hops skipped right to left", "10.1.2.3:5000", []string{"6.6.6.6, 203.0.113.1, 192.0.2.1, 10.9.9.9"}, "203.0.113.1", res},
		{"several headers read as one list", "10.1.2.3:5000", []string{"6.6.6.6, 203.0.113.1", "10.9.9.9"}, "203.0.113.1", res},
		{"all hops trusted: the left-most", "10.1.2.3:5000", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1", res},
		{"garbage stops at the last good hop", "10.1.2.3:5000", []string{"203.0.113.1, not-an-ip"}, "10.1.2.3", res},
		{"ports and brackets", "10.1.2.3:5000", []string{"[2001:db8::1]:443"}, "2001:db8::1", res},
		{"v4-mapped peer", "[::ffff:10.1.2.3]:5000", []string{"203.0.113.1"}, "203.0.113.1", res},
		{"IPv6 proxy", "[fd00::1]:5000", []string{"2001:db8::7"}, "2001:db8::7", res},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := tc.resolver.ClientIP(r); got != netip.MustParseAddr(tc.want) {
			t.Errorf("%s: %v, want %s", tc.name, got, tc.want)
		}
	}
}

func TestParsePrefixes(t *testing.T) {
	t.Parallel()
	got, err := clientip.ParsePrefixes("x", []string{" 10.0.0.0/8", "", "2001:db8::1"})
	if err != nil || len(got) != 2 || got[1].Bits() != 128 {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"10.0.0.1/8", "example.com", "10.0.0.0/33"} {
		if _, err := clientip.ParsePrefixes("x", []string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestKeyGroupsIPv6By64(t *testing.T) {
	t.Parallel()
	a, b := netip.MustParseAddr("2001:db8:1:2::1"), netip.MustParseAddr("2001:db8:1:2:ffff::9")
	if clientip.Key(a) != clientip.Key(b) || clientip.Key(a) == clientip.Key(netip.MustParseAddr("2001:db8:1:3::1")) {
		t.Fatal("IPv6 keys are not per /64")
	}
	if clientip.Key(netip.MustParseAddr("203.0.113.1")) == clientip.Key(netip.MustParseAddr("203.0.113.2")) {
		t.Fatal("IPv4 keys are not per address")
	}
}

func TestAllow(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })
	h := clientip.Allow(clientip.NewResolver(nil), []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, ok)
	for remote, want := range map[string]int{"10.2.3.4:1": 204, "11.0.0.1:1": 403} {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/orders", nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("%s: %d, want %d", remote, w.Code, want)
		}
	}
}
