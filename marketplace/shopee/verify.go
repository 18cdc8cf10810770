package shopee

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
	"sync"

	"github.com/orderlane/orderlane/marketplace"
)

// Verifier checks the Authorization signature of Shopee pushes. It is safe
// for concurrent use; a Verifier with no usable key rejects every push.
type Verifier struct {
	prefix []byte     // callbackURL + "|"
	macs   []*macPool // one per key, in the order given
}

// macPool recycles HMAC states for one key, so that verifying a push costs
// no allocation.
type macPool struct {
	pool sync.Pool // of *macState
}

type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// NewVerifier returns a Verifier for pushes sent to callbackURL, the URL
// registered in the Shopee console exactly as registered (do not rebuild it
// from the request: proxies change scheme and host). A push is accepted when
// its signature matches any of keys, tried in order: pass the live push
// partner key first and the API partner key as the fallback. Empty keys are
// ignored (an unset push key falls back to the partner key). The keys are
// copied.
func NewVerifier(callbackURL string, keys ...[]byte) *Verifier {
	v := &Verifier{prefix: []byte(callbackURL + "|")}
	for _, k := range keys {
		if len(k) == 0 {
			continue
		}
		k := append([]byte(nil), k...)
		mp := &macPool{}
		mp.pool.New = func() any { return &macState{h: hmac.New(sha256.New, k)} }
		v.macs = append(v.macs, mp)
	}
	return v
}

// Verify checks signature, the Authorization header value (lowercase hex;
// upper case and surrounding spaces are tolerated), against the raw body
// bytes exactly as received. It returns nil, marketplace.ErrMissingSignature
// for an empty signature, or marketplace.ErrBadSignature for one that is not
// 64 hex digits or matches no key. The comparison is constant time.
func (v *Verifier) Verify(signature string, body []byte) error {
	sig := strings.TrimSpace(signature)
	if sig == "" {
		return marketplace.ErrMissingSignature
	}
	var want [sha256.Size]byte
	if !decodeHex(want[:], sig) {
		return marketplace.ErrBadSignature
	}
	for _, mp := range v.macs {
		if mp.match(&want, v.prefix, body) {
			return nil
		}
	}
	return marketplace.ErrBadSignature
}

func (p *macPool) match(want *[sha256.Size]byte, prefix, body []byte) bool {
	st := p.pool.Get().(*macState)
	st.h.Reset()
	st.h.Write(prefix)
	st.h.Write(body)
	ok := hmac.Equal(st.h.Sum(st.sum[:0]), want[:])
	p.pool.Put(st)
	return ok
}

// SignPush returns the signature Shopee sends with body when pushing to
// callbackURL: lowercase hex HMAC-SHA256(key, callbackURL + "|" + body).
func SignPush(callbackURL string, key, body []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(callbackURL))
	h.Write([]byte{'|'})
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
