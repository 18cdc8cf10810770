package shopee

import "github.com/orderlane/orderlane/marketplace/internal/pushwire"

// Verifier checks the Authorization signature of Shopee pushes. It is safe
// for concurrent use; a Verifier with no usable key rejects every push.
type Verifier struct {
	hmac pushwire.Verifier // HMAC-SHA256(key, callbackURL + "|" + body), per key
}

// NewVerifier returns a Verifier for pushes sent to callbackURL, the URL
// registered in the Shopee console exactly as registered (do not rebuild it
// from the request: proxies change scheme and host). A push is accepted when
// its signature matches any of keys, tried in order: pass the live push
// partner key first and the API partner key as the fallback. Empty keys are
// ignored (an unset push key falls back to the partner key). The keys are
// copied.
func NewVerifier(callbackURL string, keys ...[]byte) *Verifier {
	return &Verifier{hmac: pushwire.NewVerifier(callbackURL+"|", keys...)}
}

// Verify checks signature, the Authorization header value (lowercase hex;
// upper case and surrounding spaces are tolerated), against the raw body
// bytes exactly as received. It returns nil, marketplace.ErrMissingSignature
// for an empty signature, or marketplace.ErrBadSignature for one that is not
// 64 hex digits or matches no key. The comparison is constant time and
// allocation-free.
func (v *Verifier) Verify(signature string, body []byte) error {
	return v.hmac.Verify(signature, body)
}

// SignPush returns the signature Shopee sends with body when pushing to
// callbackURL: lowercase hex HMAC-SHA256(key, callbackURL + "|" + body).
func SignPush(callbackURL string, key, body []byte) string {
	return pushwire.Sign(callbackURL+"|", key, body)
}
