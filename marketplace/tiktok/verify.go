package tiktok

import "github.com/orderlane/orderlane/marketplace/internal/pushwire"

// Verifier checks the Authorization signature of TikTok Shop pushes. It is safe
// for concurrent use.
type Verifier struct {
	hmac pushwire.Verifier // HMAC-SHA256(appSecret, appKey + body)
}

// NewVerifier returns a Verifier for the app identified by appKey and
// appSecret. The secret is copied. An empty secret would let anyone forge
// pushes, so a Verifier made with one rejects every push.
func NewVerifier(appKey string, appSecret []byte) *Verifier {
	return &Verifier{hmac: pushwire.NewVerifier(appKey, appSecret)}
}

// Verify checks signature, the Authorization header value (lowercase hex;
// upper case and surrounding spaces are tolerated), against the raw body
// bytes exactly as received. It returns nil, marketplace.ErrMissingSignature
// for an empty signature, or marketplace.ErrBadSignature for one that is not
// 64 hex digits or does not match. The comparison is constant time and
// allocation-free.
func (v *Verifier) Verify(signature string, body []byte) error {
	return v.hmac.Verify(signature, body)
}

// SignPush returns the signature the marketplace sends with body:
// lowercase hex HMAC-SHA256(appSecret, appKey + body).
func SignPush(appKey string, appSecret, body []byte) string {
	return pushwire.Sign(appKey, appSecret, body)
}
