package pushwire

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
	"sync"

	"github.com/orderlane/orderlane/marketplace"
)

// Verifier checks push signatures of the form lowercase hex
// HMAC-SHA256(key, prefix + body), for a fixed prefix and one or more keys.
// Shopee signs with prefix callbackURL + "|" and TikTok Shop and Lazada
// with prefix appKey. A Verifier is safe for concurrent use; the zero
// Verifier, like one without a usable key, rejects every push.
type Verifier struct {
	prefix []byte
	pools  []sync.Pool // one per key, in the order given, of *macState
}

// macState is a recycled HMAC state for one key and room for its sum, so
// that verifying a push costs no allocation.
type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// NewVerifier returns a Verifier for signatures over prefix + body. A
// signature is accepted when it matches any of keys, tried in order. Empty
// keys are ignored: a signature made with an empty key is forgeable by
// anyone. The keys are copied.
func NewVerifier(prefix string, keys ...[]byte) Verifier {
	v := Verifier{prefix: []byte(prefix)}
	n := 0
	for _, k := range keys {
		if len(k) > 0 {
			n++
		}
	}
	v.pools = make([]sync.Pool, n)
	i := 0
	for _, k := range keys {
		if len(k) == 0 {
			continue
		}
		k := append([]byte(nil), k...)
		v.pools[i].New = func() any { return &macState{h: hmac.New(sha256.New, k)} }
		i++
	}
	return v
}

// Verify checks signature, a header value in lowercase hex (upper case and
// surrounding white space are tolerated), against the raw body bytes
// exactly as received. It returns nil, marketplace.ErrMissingSignature for
// an empty signature, or marketplace.ErrBadSignature for one that is not 64
// hex digits or matches no key. The comparison is constant time and
// allocation-free.
func (v *Verifier) Verify(signature string, body []byte) error {
	sig := strings.TrimSpace(signature)
	if sig == "" {
		return marketplace.ErrMissingSignature
	}
	var want [sha256.Size]byte
	if !decodeHex(want[:], sig) {
		return marketplace.ErrBadSignature
	}
	for i := range v.pools {
		if match(&v.pools[i], &want, v.prefix, body) {
			return nil
		}
	}
	return marketplace.ErrBadSignature
}

// match reports whether the HMAC of prefix + body under the pool's key is
// want.
func match(pool *sync.Pool, want *[sha256.Size]byte, prefix, body []byte) bool {
	st := pool.Get().(*macState)
	st.h.Reset()
	st.h.Write(prefix)
	st.h.Write(body)
	ok := hmac.Equal(st.h.Sum(st.sum[:0]), want[:])
	pool.Put(st)
	return ok
}

// Sign returns the signature a marketplace sends with body: lowercase hex
// HMAC-SHA256(key, prefix + body). It is the signing side of Verifier, for
// simulators and tests.
func Sign(prefix string, key, body []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(prefix))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// decodeHex decodes exactly len(dst)*2 hex digits of either case from s
// into dst, without allocating.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
