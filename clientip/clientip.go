// Package clientip finds the address a request came from, through trusted
// proxies, and checks it against allow-lists. Throttling, logging and the
// per-route allow-lists all read the client address from here.
//
// Without trusted proxies the client is the TCP peer (RemoteAddr) and
// forwarding headers are ignored: anyone can write X-Forwarded-For. With
// trusted proxies, X-Forwarded-For is read right to left, skipping the
// trusted hops: the first address not in a trusted range is the client.
// Everything left of it was written by the client itself and is never
// believed.
package clientip

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/orderlane/orderlane/httperror"
)

// Resolver finds the client address of a request. The zero value trusts no
// proxy.
type Resolver struct {
	trusted []netip.Prefix
}

// NewResolver returns a resolver that believes X-Forwarded-For only when
// the TCP peer, and each hop read from the right, is in trusted.
func NewResolver(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: trusted}
}

// ClientIP returns the client address of r. It is the TCP peer unless that
// peer is a trusted proxy; then it is the right-most address of
// X-Forwarded-For (all the request's X-Forwarded-For headers, in order)
// that is not trusted, or the left-most one if every hop is trusted. A
// malformed entry stops the walk at the last good hop: the client could
// have written it. The zero Addr means RemoteAddr did not parse (never on
// a real connection).
func (res *Resolver) ClientIP(r *http.Request) netip.Addr {
	peer := remoteAddr(r.RemoteAddr)
	if res == nil || len(res.trusted) == 0 || !res.isTrusted(peer) {
		return peer
	}
	client := peer
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var hop string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				hop, v = v[j+1:], v[:j]
			} else {
				hop, v = v, ""
			}
			a, ok := parseHop(hop)
			if !ok {
				return client
			}
			client = a
			if !res.isTrusted(a) {
				return a
			}
		}
	}
	return client
}

func (res *Resolver) isTrusted(a netip.Addr) bool {
	return Contains(res.trusted, a)
}

// remoteAddr parses "ip:port" (or a bare ip) as set by net/http.
func remoteAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// parseHop parses one X-Forwarded-For entry: an address, optionally with a
// port or in brackets, as proxies write them.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

// Contains reports whether a is in one of prefixes.
func Contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParsePrefixes parses CIDRs ("10.0.0.0/8") and single addresses
// ("203.0.113.7", taken as /32 or /128). name is the setting, for the
// error. Empty entries are skipped.
func ParsePrefixes(name string, list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			if p != p.Masked() {
				return nil, fmt.Errorf("%s: %q has host bits set; did you mean %s?", name, s, p.Masked())
			}
			out = append(out, p)
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is neither a CIDR nor an address", name, s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// Key returns the bucket key for a: the address itself for IPv4, its /64
// for IPv6 (one subscriber usually holds a whole /64, so per-address keys
// would let it rotate through 2^64 buckets).
func Key(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// Allow returns next restricted to clients (as res sees them) in allow;
// others get 403 and the JSON error. An empty allow lets everyone through.
func Allow(res *Resolver, allow []netip.Prefix, next http.Handler) http.Handler {
	if len(allow) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Contains(allow, res.ClientIP(r)) {
			httperror.Write(w, http.StatusForbidden, httperror.CodeForbidden, "this address may not call "+r.URL.Path)
			return
		}
		next.ServeHTTP(w, r)
	})
}
