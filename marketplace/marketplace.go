// Package marketplace holds what the per-marketplace packages (shopee, lazada,
// tiktok) share: the errors their push verifiers and parsers return. Their
// shared implementation (tolerant JSON types, id checks, idempotency key
// hashing, the pooled HMAC verifier) lives in marketplace/internal/pushwire.
//
// Each marketplace package offers:
//
//   - a Verifier whose Verify(signature string, body []byte) error checks the
//     push signature over the raw bytes in constant time;
//   - Parse(body []byte, receivedAt time.Time) (order.Event, error), a
//     tolerant decoder that maps the push onto the unified order.Event
//     (group, kind, status, idempotency key), stamped with receivedAt;
//   - SignPush, the signing side, used by the simulator and by tests.
package marketplace

import "errors"

// Errors returned by verifiers and parsers. Callers match them with errors.Is;
// the gateway maps them to 401 and 400.
var (
	// ErrMissingSignature: the push had no signature.
	ErrMissingSignature = errors.New("missing signature")
	// ErrBadSignature: the signature does not match the body.
	ErrBadSignature = errors.New("signature mismatch")
	// ErrMalformed: the body is not a push this marketplace sends.
	ErrMalformed = errors.New("malformed push")
)
