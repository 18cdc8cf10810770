package lazada

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
	"sync"

	"github.com/orderlane/orderlane/marketplace"
)

// Verifier checks the Authorization signature of Lazada pushes. It is safe
// for concurrent use.
type Verifier struct {
	appKey []byte
	pool   *sync.Pool // of *macState; nil when the secret is empty
}

type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// NewVerifier returns a Verifier for the app identified by appKey and
// appSecret. The secret is copied. An empty secret would let anyone forge
// pushes, so a Verifier made with one rejects every push.
func NewVerifier(appKey string, appSecret []byte) *Verifier {
	v := &Verifier{appKey: []byte(appKey)}
	if len(appSecret) > 0 {
		secret := append([]byte(nil), appSecret...)
		v.pool = &sync.Pool{New: func() any { return &macState{h: hmac.New(sha256.New, secret)} }}
	}
	return v
}

// Verify checks signature, the Authorization header value (lowercase hex;
// upper case and surrounding spaces are tolerated), against the raw body
// bytes exactly as received. It returns nil, marketplace.ErrMissingSignature
// for an empty signature, or marketplace.ErrBadSignature for one that is not
// 64 hex digits or does not match. The comparison is constant time and
// allocation-free.
func (v *Verifier) Verify(signature string, body []byte) error {
	sig := strings.TrimSpace(signature)
	if sig == "" {
		return marketplace.ErrMissingSignature
	}
	var want [sha256.Size]byte
	if !decodeHex(want[:], sig) || v.pool == nil {
		return marketplace.ErrBadSignature
	}
	st := v.pool.Get().(*macState)
	st.h.Reset()
	st.h.Write(v.appKey)
	st.h.Write(body)
	ok := hmac.Equal(st.h.Sum(st.sum[:0]), want[:])
	v.pool.Put(st)
	if !ok {
		return marketplace.ErrBadSignature
	}
	return nil
}

// SignPush returns the signature the marketplace sends with body:
// lowercase hex HMAC-SHA256(appSecret, appKey + body).
func SignPush(appKey string, appSecret, body []byte) string {
	h := hmac.New(sha256.New, appSecret)
	h.Write([]byte(appKey))
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
