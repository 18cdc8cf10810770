// Package pushwire holds the wire-level code that the marketplace packages
// (shopee, lazada, tiktok) share: JSON types that accept ids, integers and
// Unix times in the loose forms marketplaces send, validation of the values
// that end up in message groups, headers and keys, decoding with short
// marketplace.ErrMalformed reasons, length-prefixed hashing for idempotency
// keys, and a pooled HMAC-SHA256 signature verifier.
//
// Everything is allocation-lean: decoded ids alias the input when they can,
// key fields are appended to a caller's buffer, and verifying a signature
// allocates nothing.
package pushwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/orderlane/orderlane/marketplace"
)

// MaxIDLen bounds shop ids, order ids, message ids and raw statuses: they end
// up in message groups, NATS headers and database keys.
const MaxIDLen = 128

// maxRawTime is the largest accepted timestamp: 9999-12-31T23:59:59.999Z in
// milliseconds.
const maxRawTime = 253402300799999

// msThreshold separates seconds from milliseconds: a larger value is in ms.
const msThreshold = 1e11

// FlexID is an identifier sent as a JSON string or as a JSON integer. The
// digits of an integer are kept exactly (they never go through float64).
// Raw usually aliases the decoded input: use it only while that input is
// alive and unchanged, and copy it (string(Raw)) to keep it.
type FlexID struct {
	Raw []byte // the string contents or the integer digits; nil when absent or null
	Bad bool   // present, but neither a string nor an integer
}

// UnmarshalJSON implements json.Unmarshaler. It never fails: a value of the
// wrong type sets Bad, so that the parser can name the field.
func (f *FlexID) UnmarshalJSON(b []byte) error {
	f.Raw, f.Bad = nil, false
	switch {
	case len(b) == 0 || b[0] == 'n': // null
	case b[0] == '"':
		f.Raw, f.Bad = unquote(b)
	case IsDigits(b):
		f.Raw = b
	default:
		f.Bad = true
	}
	return nil
}

// FlexInt is an integer sent as a JSON number or as a numeric string.
type FlexInt struct {
	Value int64
	Set   bool // present and not null
	Bad   bool // present, but not an integer that fits in an int64
}

// UnmarshalJSON implements json.Unmarshaler; see FlexID.
func (f *FlexInt) UnmarshalJSON(b []byte) error {
	*f = FlexInt{}
	if len(b) == 0 || b[0] == 'n' {
		return nil
	}
	f.Set = true
	if b[0] == '"' {
		var bad bool
		if b, bad = unquote(b); bad {
			f.Bad = true
			return nil
		}
	}
	v, ok := parseInt(b)
	f.Value, f.Bad = v, !ok
	return nil
}

// UnixTime is a Unix time in seconds or milliseconds (a value above 1e11 is
// milliseconds), sent as a JSON number or a numeric string. Zero, null, ""
// and absence all mean "no time".
type UnixTime struct {
	Value int64 // as sent, before the seconds/milliseconds decision
	Bad   bool  // present, but not a usable time
}

// UnmarshalJSON implements json.Unmarshaler; see FlexID.
func (t *UnixTime) UnmarshalJSON(b []byte) error {
	*t = UnixTime{}
	if len(b) == 0 || b[0] == 'n' {
		return nil
	}
	if b[0] == '"' {
		var bad bool
		if b, bad = unquote(b); bad {
			t.Bad = true
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
			t.Bad = true
			return nil //nolint:nilerr // a bad time is reported through t.Bad, so the whole body's decode goes on
		}
		v = int64(f)
	}
	if v < 0 || v > maxRawTime {
		t.Bad = true
		return nil
	}
	t.Value = v
	return nil
}

// Time returns the time in UTC, or the zero time when none was sent.
func (t UnixTime) Time() time.Time {
	switch {
	case t.Value == 0:
		return time.Time{}
	case t.Value > msThreshold:
		return time.UnixMilli(t.Value).UTC()
	default:
		return time.Unix(t.Value, 0).UTC()
	}
}

// RawJSON keeps a JSON value undecoded. Unlike json.RawMessage it does not
// copy: it aliases the input of the Unmarshal call that filled it.
type RawJSON []byte

// UnmarshalJSON implements json.Unmarshaler.
func (r *RawJSON) UnmarshalJSON(b []byte) error {
	*r = b
	return nil
}

// Present reports whether the value was sent and is not null.
func (r RawJSON) Present() bool {
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

// IsDigits reports whether b is a non-empty run of ASCII digits.
func IsDigits(b []byte) bool {
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
	if !IsDigits(b) || len(b) > 19 {
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

// CheckText validates a value that becomes part of a message group, a
// header or a key: at most MaxIDLen bytes of valid UTF-8 without control
// characters (C0, DEL or C1), and, when noColon, without ':' (the group
// separator). field names the value in the error, which wraps
// marketplace.ErrMalformed.
func CheckText[T ~string | ~[]byte](field string, b T, noColon bool) error {
	if len(b) > MaxIDLen {
		return fmt.Errorf("%w: %s longer than %d bytes", marketplace.ErrMalformed, field, MaxIDLen)
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

// ID validates a decoded identifier (CheckText with noColon) and returns a
// copy of it; a missing one is "".
func ID(field string, f FlexID) (string, error) {
	raw, err := IDRaw(field, f)
	return string(raw), err
}

// IDRaw is ID without the copy: the result aliases the decoded input.
func IDRaw(field string, f FlexID) ([]byte, error) {
	if f.Bad {
		return nil, fmt.Errorf("%w: %s is neither a string nor an integer", marketplace.ErrMalformed, field)
	}
	if err := CheckText(field, f.Raw, true); err != nil {
		return nil, err
	}
	return f.Raw, nil
}

// TimeOf validates a decoded time and returns it in UTC; a missing one is
// the zero time.
func TimeOf(field string, t UnixTime) (time.Time, error) {
	if t.Bad {
		return time.Time{}, fmt.Errorf("%w: %s is not a Unix time", marketplace.ErrMalformed, field)
	}
	return t.Time(), nil
}

// DecodeBody decodes a push body, which must be a JSON object (after
// optional white space), into v. Errors wrap marketplace.ErrMalformed with a
// short reason.
func DecodeBody(body []byte, v any) error {
	if !isObject(body) {
		return fmt.Errorf("%w: not a JSON object", marketplace.ErrMalformed)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return decodeError("", err)
	}
	return nil
}

// DecodeData decodes the data member of a push into v. A missing or null
// data is an error; like those of DecodeBody, errors wrap
// marketplace.ErrMalformed, and name fields as "data.<field>".
func DecodeData(data RawJSON, v any) error {
	if !data.Present() {
		return fmt.Errorf("%w: data missing", marketplace.ErrMalformed)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return decodeError("data.", err)
	}
	return nil
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
		// The decoder's message, not its error: callers match ErrMalformed,
		// and json's internal error types are not part of our contract.
		return fmt.Errorf("%w: %v", marketplace.ErrMalformed, err) //nolint:errorlint // see above
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
