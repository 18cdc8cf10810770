package lazada

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
)

// maxIDLen bounds shop ids, order ids, message ids and raw statuses: they end
// up in message groups, NATS headers and database keys.
const maxIDLen = 128

// maxRawTime is the largest accepted timestamp: 9999-12-31T23:59:59.999Z in
// milliseconds.
const maxRawTime = 253402300799999

// msThreshold separates seconds from milliseconds: a larger value is in ms.
const msThreshold = 1e11

// flexID is an identifier sent as a JSON string or as a JSON integer. The
// digits of an integer are kept exactly (they never go through float64).
// raw usually aliases the decoded input: use it only while that input is
// alive and unchanged, and copy it (string(raw)) to keep it.
type flexID struct {
	raw []byte
	bad bool // present, but neither a string nor an integer
}

// UnmarshalJSON implements json.Unmarshaler. It never fails: a value of the
// wrong type sets bad, so that the parser can name the field.
func (f *flexID) UnmarshalJSON(b []byte) error {
	f.raw, f.bad = nil, false
	switch {
	case len(b) == 0 || b[0] == 'n': // null
	case b[0] == '"':
		f.raw, f.bad = unquote(b)
	case isDigits(b):
		f.raw = b
	default:
		f.bad = true
	}
	return nil
}

// flexInt is an integer sent as a JSON number or as a numeric string.
type flexInt struct {
	v   int64
	set bool // present and not null
	bad bool // present, but not an integer
}

// UnmarshalJSON implements json.Unmarshaler; see flexID.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	*f = flexInt{}
	if len(b) == 0 || b[0] == 'n' {
		return nil
	}
	f.set = true
	if b[0] == '"' {
		var bad bool
		if b, bad = unquote(b); bad {
			f.bad = true
			return nil
		}
	}
	v, ok := parseInt(b)
	f.v, f.bad = v, !ok
	return nil
}

// unixTime is a Unix time in seconds or milliseconds (a value above 1e11 is
// milliseconds), sent as a JSON number or a numeric string. Zero, null, ""
// and absence all mean "no time".
type unixTime struct {
	v   int64 // as sent, before the seconds/milliseconds decision
	bad bool  // present, but not a usable time
}

// UnmarshalJSON implements json.Unmarshaler; see flexID.
func (t *unixTime) UnmarshalJSON(b []byte) error {
	*t = unixTime{}
	if len(b) == 0 || b[0] == 'n' {
		return nil
	}
	if b[0] == '"' {
		var bad bool
		if b, bad = unquote(b); bad {
			t.bad = true
			return nil
		}
		if len(b) == 0 {
			return nil
		}
	}
	v, ok := parseInt(b)
	if !ok {
		// Tolerate 1.7e9 and 1765689439.0: numeric, just not integral text.
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > maxRawTime {
			t.bad = true
			return nil
		}
		v = int64(f)
	}
	if v < 0 || v > maxRawTime {
		t.bad = true
		return nil
	}
	t.v = v
	return nil
}

// Time returns the time in UTC, or the zero time when none was sent.
func (t unixTime) Time() time.Time {
	switch {
	case t.v == 0:
		return time.Time{}
	case t.v > msThreshold:
		return time.UnixMilli(t.v).UTC()
	default:
		return time.Unix(t.v, 0).UTC()
	}
}

// rawJSON keeps a JSON value undecoded. Unlike json.RawMessage it does not
// copy: it aliases the input of the Unmarshal call that filled it.
type rawJSON []byte

// UnmarshalJSON implements json.Unmarshaler.
func (r *rawJSON) UnmarshalJSON(b []byte) error {
	*r = b
	return nil
}

// present reports whether the value was sent and is not null.
func (r rawJSON) present() bool {
	return len(r) > 0 && !bytes.Equal(r, []byte("null"))
}

// unquote returns the contents of the JSON string literal b, aliasing b when
// the literal has no escapes. bad reports an undecodable literal.
func unquote(b []byte) (s []byte, bad bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return nil, true
	}
	in := b[1 : len(b)-1]
	if bytes.IndexByte(in, '\\') < 0 {
		return in, false
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return nil, true
	}
	return []byte(str), false
}

// isDigits reports whether b is a non-empty run of ASCII digits.
func isDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseInt parses an optionally negative decimal integer without
// allocating; ok is false on anything else or on overflow.
func parseInt(b []byte) (v int64, ok bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if !isDigits(b) || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		u = u*10 + uint64(c-'0')
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// checkText validates a value that becomes part of a message group, a
// header or a key: at most maxIDLen bytes of valid UTF-8 without control
// characters, and, when noColon, without ':' (the group separator).
func checkText[T ~string | ~[]byte](field string, b T, noColon bool) error {
	if len(b) > maxIDLen {
		return fmt.Errorf("%w: %s longer than %d bytes", marketplace.ErrMalformed, field, maxIDLen)
	}
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return fmt.Errorf("%w: %s contains a control character", marketplace.ErrMalformed, field)
			}
			if c == ':' && noColon {
				return fmt.Errorf("%w: %s contains ':'", marketplace.ErrMalformed, field)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(string(b[i:min(i+utf8.UTFMax, len(b))]))
		if r == utf8.RuneError && n == 1 {
			return fmt.Errorf("%w: %s is not valid UTF-8", marketplace.ErrMalformed, field)
		}
		if r >= 0x80 && r <= 0x9f {
			return fmt.Errorf("%w: %s contains a control character", marketplace.ErrMalformed, field)
		}
		i += n
	}
	return nil
}

// id validates a decoded identifier and returns it; a missing one is "".
func id(field string, f flexID) (string, error) {
	raw, err := idRaw(field, f)
	return string(raw), err
}

// idRaw is id without the copy: the result aliases the decoded input.
func idRaw(field string, f flexID) ([]byte, error) {
	if f.bad {
		return nil, fmt.Errorf("%w: %s is neither a string nor an integer", marketplace.ErrMalformed, field)
	}
	if err := checkText(field, f.raw, true); err != nil {
		return nil, err
	}
	return f.raw, nil
}

// timeOf validates a decoded time.
func timeOf(field string, t unixTime) (time.Time, error) {
	if t.bad {
		return time.Time{}, fmt.Errorf("%w: %s is not a Unix time", marketplace.ErrMalformed, field)
	}
	return t.Time(), nil
}

// decodeError turns an encoding/json error into ErrMalformed with a short
// reason; prefix names the decoded part ("" or "data.").
func decodeError(prefix string, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("%w: invalid JSON at byte %d", marketplace.ErrMalformed, syn.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Errorf("%w: %snot a JSON object", marketplace.ErrMalformed, prefix)
	case errors.As(err, &typ):
		return fmt.Errorf("%w: %s%s has the wrong type", marketplace.ErrMalformed, prefix, typ.Field)
	default:
		return fmt.Errorf("%w: %v", marketplace.ErrMalformed, err)
	}
}

// isObject reports whether b, after leading white space, starts a JSON
// object.
func isObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c == '{'
	}
	return false
}

// appendField appends one identifying field of a push to b, the input of
// hashKey. Each field is length-prefixed, so that no field content can shift
// the boundary between fields.
func appendField[T ~string | ~[]byte](b []byte, v T) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// appendIntField appends an integer field in decimal.
func appendIntField(b []byte, v int64) []byte {
	var tmp [20]byte
	return appendField(b, strconv.AppendInt(tmp[:0], v, 10))
}

// hashKey returns the idempotency key for fields built with appendField:
// "<platform>:h:" and the first 32 hex digits of their SHA-256.
func hashKey(p order.Platform, fields []byte) string {
	sum := sha256.Sum256(fields)
	var out [64]byte
	n := copy(out[:], p)
	n += copy(out[n:], ":h:")
	n += hex.Encode(out[n:], sum[:16])
	return string(out[:n])
}
