package pushwire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/orderlane/orderlane/marketplace"
)

// unmarshalField decodes {"f": lit} into a struct whose field f has type T,
// the way the parsers use these types.
func unmarshalField[T any](t *testing.T, lit string) T {
	t.Helper()
	var s struct {
		F T `json:"f"`
	}
	if err := json.Unmarshal([]byte(`{"f":`+lit+`}`), &s); err != nil {
		t.Fatalf("Unmarshal(%s) = %v", lit, err)
	}
	return s.F
}

func TestFlexID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lit  string
		raw  string
		null bool // Raw is nil
		bad  bool
	}{
		{lit: `"A1"`, raw: "A1"},
		{lit: `123`, raw: "123"},
		{lit: `"123"`, raw: "123"},
		{lit: `9007199254740993`, raw: "9007199254740993"},         // above 2^53: float64 would round it
		{lit: `18446744073709551617`, raw: "18446744073709551617"}, // above uint64
		{lit: `"260422900198363"`, raw: "260422900198363"},
		{lit: `"A\/B\u00e9"`, raw: "A/Bé"},
		{lit: `"\u0031\u0032"`, raw: "12"},
		{lit: `""`, raw: ""},
		{lit: `"a:b\u0000"`, raw: "a:b\x00"}, // decoding does not validate: ID does
		{lit: `null`, null: true},
		{lit: `-1`, null: true, bad: true},
		{lit: `1.5`, null: true, bad: true},
		{lit: `1e3`, null: true, bad: true},
		{lit: `5.7e17`, null: true, bad: true},
		{lit: `true`, null: true, bad: true},
		{lit: `false`, null: true, bad: true},
		{lit: `{}`, null: true, bad: true},
		{lit: `["1"]`, null: true, bad: true},
	}
	for _, tt := range tests {
		f := unmarshalField[FlexID](t, tt.lit)
		if f.Bad != tt.bad || string(f.Raw) != tt.raw || (f.Raw == nil) != tt.null {
			t.Errorf("%s: FlexID = {Raw %q (nil %v) Bad %v}, want {%q (nil %v) %v}", tt.lit, f.Raw, f.Raw == nil, f.Bad, tt.raw, tt.null, tt.bad)
		}
	}
	if f := unmarshalField[struct {
		ID FlexID `json:"id"`
	}](t, `{}`); f.ID.Raw != nil || f.ID.Bad {
		t.Errorf("absent FlexID = %+v, want the zero value", f.ID)
	}
}

func TestFlexIDDirect(t *testing.T) {
	t.Parallel()
	// UnmarshalJSON never fails, also on input encoding/json would not pass.
	for _, lit := range []string{``, `"`, `"abc`, `abc"`, `"\x"`, `-`, `0x1`, ` 1`} {
		var f FlexID
		if err := f.UnmarshalJSON([]byte(lit)); err != nil {
			t.Fatalf("UnmarshalJSON(%q) = %v", lit, err)
		}
		if lit != `` && !f.Bad {
			t.Errorf("UnmarshalJSON(%q): Bad = false, Raw %q", lit, f.Raw)
		}
	}
	// Digits are kept as sent, leading zeros included.
	var z FlexID
	if z.UnmarshalJSON([]byte(`007`)); string(z.Raw) != "007" || z.Bad {
		t.Errorf("UnmarshalJSON(007) = %+v", z)
	}
	// A reused value is reset.
	f := FlexID{Raw: []byte("old"), Bad: true}
	if f.UnmarshalJSON([]byte(`null`)); f.Raw != nil || f.Bad {
		t.Errorf("reused FlexID after null = %+v", f)
	}
}

func TestFlexIDAliasesInput(t *testing.T) {
	t.Parallel()
	within := func(sub, buf []byte) bool {
		if len(sub) == 0 {
			return false
		}
		p, b := uintptr(unsafe.Pointer(&sub[0])), uintptr(unsafe.Pointer(&buf[0]))
		return p >= b && p < b+uintptr(len(buf))
	}
	for lit, alias := range map[string]bool{`"A1"`: true, `123`: true, `"A\u0031"`: false} {
		buf := []byte(lit)
		var f FlexID
		f.UnmarshalJSON(buf)
		if within(f.Raw, buf) != alias {
			t.Errorf("%s: Raw aliases the input = %v, want %v", lit, !alias, alias)
		}
	}
}

// TestUnmarshalUndecodableStrings feeds the types string literals that
// encoding/json itself would reject: they are Bad, never an error.
func TestUnmarshalUndecodableStrings(t *testing.T) {
	t.Parallel()
	for _, lit := range []string{`"`, `"3`, `"\x"`, `"\u12"`} {
		var n FlexInt
		var u UnixTime
		if n.UnmarshalJSON([]byte(lit)) != nil || !n.Bad || !n.Set {
			t.Errorf("FlexInt(%s) = %+v, want Bad", lit, n)
		}
		if u.UnmarshalJSON([]byte(lit)) != nil || !u.Bad {
			t.Errorf("UnixTime(%s) = %+v, want Bad", lit, u)
		}
	}
}

func TestFlexInt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lit      string
		v        int64
		set, bad bool
	}{
		{lit: `3`, v: 3, set: true},
		{lit: `"3"`, v: 3, set: true},
		{lit: `"\u0033"`, v: 3, set: true},
		{lit: `0`, v: 0, set: true},
		{lit: `-1`, v: -1, set: true},
		{lit: `"-0"`, v: 0, set: true},
		{lit: `123456`, v: 123456, set: true},
		{lit: `9223372036854775807`, v: 9223372036854775807, set: true},
		{lit: `-9223372036854775807`, v: -9223372036854775807, set: true},
		{lit: `null`},
		{lit: `-9223372036854775808`, set: true, bad: true}, // beyond what parseInt accepts
		{lit: `9223372036854775808`, set: true, bad: true},
		{lit: `99999999999999999999`, set: true, bad: true},
		{lit: `3.0`, set: true, bad: true},
		{lit: `3.5`, set: true, bad: true},
		{lit: `1e3`, set: true, bad: true},
		{lit: `"three"`, set: true, bad: true},
		{lit: `""`, set: true, bad: true},
		{lit: `" 3"`, set: true, bad: true},
		{lit: `"3 "`, set: true, bad: true},
		{lit: `"+3"`, set: true, bad: true},
		{lit: `true`, set: true, bad: true},
		{lit: `[]`, set: true, bad: true},
		{lit: `{}`, set: true, bad: true},
	}
	for _, tt := range tests {
		f := unmarshalField[FlexInt](t, tt.lit)
		if f != (FlexInt{Value: tt.v, Set: tt.set, Bad: tt.bad}) {
			t.Errorf("%s: FlexInt = %+v, want {%d %v %v}", tt.lit, f, tt.v, tt.set, tt.bad)
		}
	}
	if f := unmarshalField[struct {
		N FlexInt `json:"n"`
	}](t, `{}`); f.N != (FlexInt{}) {
		t.Errorf("absent FlexInt = %+v, want the zero value", f.N)
	}
}

func TestUnixTime(t *testing.T) {
	t.Parallel()
	sec := time.Unix(1765689439, 0).UTC()
	ms := time.UnixMilli(1765689439123).UTC()
	tests := []struct {
		lit  string
		want time.Time
	}{
		{`1765689439`, sec},
		{`"1765689439"`, sec},
		{`1765689439000`, sec},
		{`"1765689439000"`, sec},
		{`1765689439123`, ms},
		{`"1765689439123"`, ms},
		{`1.765689439e9`, sec},
		{`1765689439.0`, sec},
		{`"1765689439.9"`, sec}, // truncated, not rounded
		{`1`, time.Unix(1, 0).UTC()},
		// The seconds/milliseconds boundary: 1e11 is still seconds (year
		// 5138), anything above is milliseconds (1973).
		{`100000000000`, time.Unix(1e11, 0).UTC()},
		{`100000000001`, time.UnixMilli(1e11 + 1).UTC()},
		{`253402300799999`, time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)},
		// No time.
		{`0`, time.Time{}},
		{`"0"`, time.Time{}},
		{`0.0`, time.Time{}},
		{`null`, time.Time{}},
		{`""`, time.Time{}},
	}
	for _, tt := range tests {
		u := unmarshalField[UnixTime](t, tt.lit)
		got, err := TimeOf("f", u)
		if u.Bad || err != nil || !got.Equal(tt.want) || (!got.IsZero() && got.Location() != time.UTC) {
			t.Errorf("%s: %+v, TimeOf = %v, %v; want %v UTC", tt.lit, u, got, err, tt.want)
		}
	}
	for _, lit := range []string{
		`-5`, `"-1"`, `-0.5`, `253402300800000`, `1e300`, `"1e300"`, `"yesterday"`, `"2022-02-09T13:21:25Z"`,
		`"NaN"`, `"Inf"`, `"0x10"`, `" 1"`, `true`, `{}`, `[]`, `[1765689439]`,
	} {
		u := unmarshalField[UnixTime](t, lit)
		if !u.Bad || u.Value != 0 {
			t.Errorf("%s: UnixTime = %+v, want Bad", lit, u)
		}
		if _, err := TimeOf("data.update_time", u); !errors.Is(err, marketplace.ErrMalformed) ||
			err.Error() != "malformed push: data.update_time is not a Unix time" {
			t.Errorf("%s: TimeOf error = %v", lit, err)
		}
	}
	if u := unmarshalField[struct {
		T UnixTime `json:"t"`
	}](t, `{}`); u.T != (UnixTime{}) || !u.T.Time().IsZero() {
		t.Errorf("absent UnixTime = %+v", u.T)
	}
	// Value keeps what was sent, before the seconds/milliseconds decision.
	if u := unmarshalField[UnixTime](t, `"1765689439123"`); u.Value != 1765689439123 {
		t.Errorf("Value = %d", u.Value)
	}
}

func TestRawJSON(t *testing.T) {
	t.Parallel()
	var s struct {
		D RawJSON `json:"d"`
		E RawJSON `json:"e"`
		N RawJSON `json:"n"`
	}
	body := []byte(`{"d": {"a": [1, 2]} ,"n":null}`)
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	if string(s.D) != `{"a": [1, 2]}` || !s.D.Present() {
		t.Errorf("D = %q, Present %v", s.D, s.D.Present())
	}
	if &s.D[0] != &body[6] {
		t.Errorf("D does not alias the body")
	}
	if s.E.Present() || s.N.Present() {
		t.Errorf("absent or null reported present: %q %q", s.E, s.N)
	}
	for _, v := range []string{`0`, `""`, `[]`, `{}`, `false`} {
		if !RawJSON(v).Present() {
			t.Errorf("RawJSON(%s).Present() = false", v)
		}
	}
}

func TestIsDigits(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{"0": true, "0123456789": true, "": false, "-1": false, "1.0": false, "1e3": false, "１": false, " 1": false} {
		if got := IsDigits([]byte(s)); got != want {
			t.Errorf("IsDigits(%q) = %v", s, got)
		}
	}
}

func TestCheckText(t *testing.T) {
	t.Parallel()
	ok := []string{"", "A1", "251214B9XAB0ST", "a b", "é", "日本", "🙂", "\u00a0", "a/b-c_d.e", strings.Repeat("x", MaxIDLen), strings.Repeat("é", MaxIDLen/2)}
	for _, s := range ok {
		for _, noColon := range []bool{false, true} {
			if err := CheckText("f", s, noColon); err != nil {
				t.Errorf("CheckText(%q, %v) = %v", s, noColon, err)
			}
			if err := CheckText("f", []byte(s), noColon); err != nil {
				t.Errorf("CheckText([]byte %q, %v) = %v", s, noColon, err)
			}
		}
	}
	if err := CheckText("f", "a:b", false); err != nil {
		t.Errorf("CheckText with a colon allowed = %v", err)
	}
	bad := map[string]string{
		strings.Repeat("x", MaxIDLen+1):    "malformed push: data.x longer than 128 bytes",
		strings.Repeat("é", MaxIDLen/2+1):  "malformed push: data.x longer than 128 bytes",
		"a:b":                              "malformed push: data.x contains ':'",
		"a\x00":                            "malformed push: data.x contains a control character",
		"\tA":                              "malformed push: data.x contains a control character",
		"A\n":                              "malformed push: data.x contains a control character",
		"\x1f":                             "malformed push: data.x contains a control character",
		"\x7f":                             "malformed push: data.x contains a control character",
		"A\u0085":                          "malformed push: data.x contains a control character", // C1
		"\u009f":                           "malformed push: data.x contains a control character",
		"\xff":                             "malformed push: data.x is not valid UTF-8",
		"A\xc3":                            "malformed push: data.x is not valid UTF-8", // truncated at the end
		"\xc3(":                            "malformed push: data.x is not valid UTF-8",
		"\xed\xa0\x80":                     "malformed push: data.x is not valid UTF-8", // a surrogate
		"\xc0\xaf":                         "malformed push: data.x is not valid UTF-8", // overlong
		strings.Repeat("1", 127) + "\xe6":  "malformed push: data.x is not valid UTF-8",
		strings.Repeat("1", 126) + "\x00:": "malformed push: data.x contains a control character",
	}
	for s, want := range bad {
		for _, err := range []error{CheckText("data.x", s, true), CheckText("data.x", []byte(s), true)} {
			if !errors.Is(err, marketplace.ErrMalformed) || err.Error() != want {
				t.Errorf("CheckText(%q) = %v, want %q", s, err, want)
			}
		}
	}
}

func TestID(t *testing.T) {
	t.Parallel()
	raw := []byte("260422900198363")
	got, err := ID("data.trade_order_id", FlexID{Raw: raw})
	if err != nil || got != "260422900198363" {
		t.Fatalf("ID = %q, %v", got, err)
	}
	raw[0] = 'X'
	if got != "260422900198363" {
		t.Errorf("ID's result changed with its input: %q", got)
	}
	if r, err := IDRaw("f", FlexID{Raw: raw}); err != nil || &r[0] != &raw[0] {
		t.Errorf("IDRaw = %q, %v; want the input itself", r, err)
	}
	if got, err := ID("f", FlexID{}); got != "" || err != nil {
		t.Errorf("ID of a missing id = %q, %v", got, err)
	}
	for f, want := range map[*FlexID]string{
		{Bad: true}:             "malformed push: data.order_id is neither a string nor an integer",
		{Raw: []byte("1:2")}:    "malformed push: data.order_id contains ':'",
		{Raw: []byte("1\x002")}: "malformed push: data.order_id contains a control character",
	} {
		if _, err := ID("data.order_id", *f); !errors.Is(err, marketplace.ErrMalformed) || err.Error() != want {
			t.Errorf("ID(%+v) = %v, want %q", *f, err, want)
		}
		if r, err := IDRaw("data.order_id", *f); r != nil || err == nil || err.Error() != want {
			t.Errorf("IDRaw(%+v) = %q, %v, want %q", *f, r, err, want)
		}
	}
}

func TestDecodeBody(t *testing.T) {
	t.Parallel()
	type env struct {
		Code FlexInt `json:"code"`
		Name string  `json:"name"`
		Data RawJSON `json:"data"`
	}
	for _, body := range []string{`{"code":3,"name":"x"}`, " \t\r\n{\"code\":\"3\"}\n", `{}`} {
		var e env
		if err := DecodeBody([]byte(body), &e); err != nil {
			t.Errorf("DecodeBody(%q) = %v", body, err)
		}
	}
	bad := map[string]string{
		``:                         "malformed push: not a JSON object",
		`   `:                      "malformed push: not a JSON object",
		`[{"code":3}]`:             "malformed push: not a JSON object",
		`null`:                     "malformed push: not a JSON object",
		`"{}"`:                     "malformed push: not a JSON object",
		"\v{}":                     "malformed push: not a JSON object",
		`{"code":3`:                "malformed push: invalid JSON at byte 9",
		`{"code":3}x`:              "malformed push: invalid JSON at byte 11",
		`{"code":3,"name":7}`:      "malformed push: name has the wrong type",
		`{"code":3,"name":"\ud8"}`: "malformed push: invalid JSON at byte 23",
	}
	for body, want := range bad {
		var e env
		if err := DecodeBody([]byte(body), &e); !errors.Is(err, marketplace.ErrMalformed) || err.Error() != want {
			t.Errorf("DecodeBody(%q) = %v, want %q", body, err, want)
		}
	}
}

func TestDecodeErrorOther(t *testing.T) {
	t.Parallel()
	err := decodeError("data.", errors.New("boom"))
	if !errors.Is(err, marketplace.ErrMalformed) || err.Error() != "malformed push: boom" {
		t.Fatalf("decodeError = %v", err)
	}
}

func TestDecodeData(t *testing.T) {
	t.Parallel()
	type data struct {
		OrderID FlexID `json:"order_id"`
		Status  string `json:"status"`
	}
	var d data
	if err := DecodeData(RawJSON(`{"order_id":5,"status":"X"}`), &d); err != nil || string(d.OrderID.Raw) != "5" || d.Status != "X" {
		t.Fatalf("DecodeData = %+v, %v", d, err)
	}
	bad := map[string]string{
		``:                 "malformed push: data missing",
		`null`:             "malformed push: data missing",
		`[]`:               "malformed push: data.not a JSON object",
		`"x"`:              "malformed push: data.not a JSON object",
		`{"status":["X"]}`: "malformed push: data.status has the wrong type",
	}
	for raw, want := range bad {
		var d data
		if err := DecodeData(RawJSON(raw), &d); !errors.Is(err, marketplace.ErrMalformed) || err.Error() != want {
			t.Errorf("DecodeData(%q) = %v, want %q", raw, err, want)
		}
	}
}

func TestParseInt(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]int64{"0": 0, "-0": 0, "42": 42, "0042": 42, "-42": -42, "9223372036854775807": 1<<63 - 1} {
		if v, ok := parseInt([]byte(s)); !ok || v != want {
			t.Errorf("parseInt(%q) = %d, %v", s, v, ok)
		}
	}
	for _, s := range []string{"", "-", "--1", "+1", "1-", "1.0", "1e3", " 1", "9223372036854775808", "-9223372036854775808", "00000000000000000001"} {
		if v, ok := parseInt([]byte(s)); ok {
			t.Errorf("parseInt(%q) = %d, true", s, v)
		}
	}
}
