package pushwire

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"

	"github.com/orderlane/orderlane/order"
)

// AppendField appends one identifying field of a push to b, the input of
// HashKey. Each field is prefixed with its length (a uvarint), so that no
// field content can shift the boundary between fields: two different lists
// of fields never give the same bytes. Append into a stack buffer
// (var buf [256]byte; b := AppendField(buf[:0], ...)) to stay
// allocation-free.
func AppendField[T ~string | ~[]byte](b []byte, v T) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// AppendIntField appends an integer field in decimal, exactly as
// AppendField would append its decimal text.
func AppendIntField(b []byte, v int64) []byte {
	var tmp [20]byte
	return AppendField(b, strconv.AppendInt(tmp[:0], v, 10))
}

// HashKey returns the idempotency key for fields built with AppendField:
// "<platform>:h:" and the first 32 hex digits (128 bits) of their SHA-256.
// The string is its only allocation.
func HashKey(p order.Platform, fields []byte) string {
	sum := sha256.Sum256(fields)
	var out [64]byte
	n := copy(out[:], p)
	n += copy(out[n:], ":h:")
	n += hex.Encode(out[n:], sum[:16])
	return string(out[:n])
}
