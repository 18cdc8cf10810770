package pushwire

import (
	"testing"

	"github.com/orderlane/orderlane/order"
)

// raceEnabled is set by race_test.go in -race builds.
var raceEnabled bool

// TestAllocs pins the allocation profile the parsers and verifiers rely on.
// It does not run in parallel: AllocsPerRun counts every goroutine's
// allocations.
func TestAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("coverage and race instrumentation change allocations")
	}
	id := []byte(`"251214B9XAB0ST"`)
	num := []byte(`"1765689439123"`)
	text := []byte("251214B9XAB0ST-日本")
	body := []byte(`{"code":3,"shop_id":336094210}`)
	sig := Sign("https://example.com/webhook/shopee|", []byte("k2"), body)
	v := NewVerifier("https://example.com/webhook/shopee|", []byte("k1"), []byte("k2"))
	v.Verify(sig, body) // fill the pools
	tests := []struct {
		name string
		want float64
		f    func()
	}{
		{"FlexID of an unescaped string", 0, func() {
			var f FlexID
			f.UnmarshalJSON(id)
		}},
		{"FlexInt of a numeric string", 0, func() {
			var f FlexInt
			f.UnmarshalJSON(num)
		}},
		{"UnixTime of a numeric string", 0, func() {
			var u UnixTime
			u.UnmarshalJSON(num)
		}},
		{"CheckText of valid text", 0, func() { _ = CheckText("f", text, true) }},
		{"AppendField into a stack buffer", 0, func() {
			var buf [256]byte
			kb := AppendField(buf[:0], order.Shopee)
			kb = AppendField(kb, text)
			kb = AppendIntField(kb, 1765689439)
			_ = kb
		}},
		{"HashKey", 1, func() {
			var buf [256]byte
			_ = HashKey(order.Shopee, AppendField(buf[:0], text))
		}},
		{"Verify with the second key", 0, func() {
			if v.Verify(sig, body) != nil {
				panic("Verify failed")
			}
		}},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(200, tt.f); got != tt.want {
			t.Errorf("%s: %v allocs, want %v", tt.name, got, tt.want)
		}
	}
}
