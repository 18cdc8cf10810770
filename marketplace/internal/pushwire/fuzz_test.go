package pushwire

import (
	"bytes"
	"math"
	"regexp"
	"strconv"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/orderlane/orderlane/order"
)

var intText = regexp.MustCompile(`^-?[0-9]{1,19}$`)

// FuzzFlexTypes checks the JSON types and CheckText against independent
// definitions: integers against strconv.ParseInt, ids digit for digit,
// times within range, and accepted text against unicode's idea of valid,
// control-free UTF-8.
func FuzzFlexTypes(f *testing.F) {
	for _, s := range []string{`0`, `-1`, `"42"`, `9007199254740993`, `9223372036854775808`, `1765689439123`,
		`1.765689439e9`, `"A\u00e9:\u0085"`, `null`, `""`, `"\ud800"`, "\"\xff\"", `1e400`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)

		var id FlexID
		if err := id.UnmarshalJSON(b); err != nil {
			t.Fatalf("FlexID.UnmarshalJSON = %v", err)
		}
		if IsDigits(b) && (id.Bad || !bytes.Equal(id.Raw, b)) {
			t.Fatalf("FlexID of digits %q = %+v", b, id)
		}
		if id.Bad && id.Raw != nil {
			t.Fatalf("bad FlexID with Raw %q", id.Raw)
		}

		var n FlexInt
		if err := n.UnmarshalJSON(b); err != nil {
			t.Fatalf("FlexInt.UnmarshalJSON = %v", err)
		}
		if n.Bad && n.Value != 0 || !n.Set && (n.Bad || n.Value != 0) {
			t.Fatalf("inconsistent FlexInt %+v", n)
		}
		if intText.Match(b) {
			want, err := strconv.ParseInt(string(b), 10, 64)
			switch {
			case err == nil && want != math.MinInt64 && (n.Bad || n.Value != want):
				t.Fatalf("FlexInt(%s) = %+v, want %d", b, n, want)
			case (err != nil || want == math.MinInt64) && !n.Bad:
				t.Fatalf("FlexInt(%s) = %+v, want Bad", b, n)
			}
		}
		if len(b) > 0 && b[0] != '"' && !n.Bad && n.Set {
			if want, err := strconv.ParseInt(string(b), 10, 64); err != nil || want != n.Value {
				t.Fatalf("FlexInt(%s) = %+v; strconv says %d, %v", b, n, want, err)
			}
		}

		var ut UnixTime
		if err := ut.UnmarshalJSON(b); err != nil {
			t.Fatalf("UnixTime.UnmarshalJSON = %v", err)
		}
		if ut.Bad && ut.Value != 0 || ut.Value < 0 || ut.Value > maxRawTime {
			t.Fatalf("UnixTime(%s) = %+v", b, ut)
		}
		if tm := ut.Time(); !tm.IsZero() && (tm.Location().String() != "UTC" || tm.Year() < 1970 || tm.Year() > 9999) {
			t.Fatalf("UnixTime(%s).Time() = %v", b, tm)
		}

		if err := CheckText("f", b, true); err == nil {
			if len(b) > MaxIDLen || !utf8.Valid(b) || bytes.IndexByte(b, ':') >= 0 ||
				bytes.IndexFunc(b, unicode.IsControl) >= 0 {
				t.Fatalf("CheckText accepted %q", b)
			}
			if CheckText("f", string(b), true) != nil {
				t.Fatalf("CheckText disagrees between string and []byte on %q", b)
			}
		} else if len(b) <= MaxIDLen && utf8.Valid(b) && bytes.IndexByte(b, ':') < 0 && bytes.IndexFunc(b, unicode.IsControl) < 0 {
			t.Fatalf("CheckText rejected %q: %v", b, err)
		}

		var kb []byte
		kb = AppendField(kb, b)
		if l, k := binaryUvarint(kb); l != uint64(len(b)) || !bytes.Equal(kb[k:], b) {
			t.Fatalf("AppendField(%q) = %q", b, kb)
		}
		_ = HashKey(order.Shopee, kb)

		if !bytes.Equal(b, in) {
			t.Fatalf("input changed")
		}
	})
}

// binaryUvarint decodes the length prefix AppendField writes.
func binaryUvarint(b []byte) (uint64, int) {
	var x uint64
	var s uint
	for i, c := range b {
		if c < 0x80 {
			return x | uint64(c)<<s, i + 1
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, 0
}
