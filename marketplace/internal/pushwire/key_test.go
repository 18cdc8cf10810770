package pushwire

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/orderlane/orderlane/order"
)

func TestAppendFieldLengthPrefixed(t *testing.T) {
	t.Parallel()
	got := AppendField([]byte("pre"), "abc")
	if want := []byte("pre\x03abc"); !bytes.Equal(got, want) {
		t.Fatalf("AppendField = %q, want %q", got, want)
	}
	if got := AppendField(nil, []byte{}); !bytes.Equal(got, []byte{0}) {
		t.Fatalf("AppendField of an empty field = %q, want a zero length", got)
	}
	// Lengths of 128 bytes and more take a two-byte uvarint.
	long := strings.Repeat("x", 300)
	if got := AppendField(nil, long); !bytes.Equal(got[:2], []byte{0xac, 0x02}) || string(got[2:]) != long {
		t.Fatalf("AppendField of 300 bytes starts %x", got[:2])
	}
	// The string and []byte forms agree, as do named string types.
	if a, b, c := AppendField(nil, "shopee"), AppendField(nil, []byte("shopee")), AppendField(nil, order.Shopee); !bytes.Equal(a, b) || !bytes.Equal(a, c) {
		t.Fatalf("AppendField forms differ: %q %q %q", a, b, c)
	}
}

func TestAppendIntField(t *testing.T) {
	t.Parallel()
	for _, v := range []int64{0, 1, -1, 1765689439, 1765689439123, 1<<63 - 1, -1 << 63} {
		if got, want := AppendIntField(nil, v), AppendField(nil, fmt.Sprint(v)); !bytes.Equal(got, want) {
			t.Errorf("AppendIntField(%d) = %q, want %q", v, got, want)
		}
	}
}

// TestFieldsUnambiguous checks that the encoding of a list of fields is
// injective: no two different lists, even ones whose concatenations are
// equal or whose contents look like length prefixes, encode alike.
func TestFieldsUnambiguous(t *testing.T) {
	t.Parallel()
	atoms := []string{"", "a", "b", "ab", "\x00", "\x01", "\x01a", "\x02ab", "\x00\x00", ":", strings.Repeat("z", 130)}
	var lists [][]string
	var gen func(prefix []string)
	gen = func(prefix []string) {
		lists = append(lists, append([]string(nil), prefix...))
		if len(prefix) == 3 {
			return
		}
		for _, a := range atoms {
			gen(append(prefix, a))
		}
	}
	gen(nil)
	seen := make(map[string][]string, len(lists))
	for _, l := range lists {
		var b []byte
		for _, f := range l {
			b = AppendField(b, f)
		}
		if prev, dup := seen[string(b)]; dup {
			t.Fatalf("fields %q and %q encode alike: %q", prev, l, b)
		}
		seen[string(b)] = l
	}
	if len(seen) != 1+11+11*11+11*11*11 {
		t.Fatalf("%d lists checked", len(seen))
	}
}

func TestHashKey(t *testing.T) {
	t.Parallel()
	var buf [256]byte
	kb := AppendField(buf[:0], order.Shopee)
	kb = AppendField(kb, "336094210")
	kb = AppendField(kb, "3")
	kb = AppendField(kb, "251214B9XAB0ST")
	kb = AppendIntField(kb, 1765689439)
	key := HashKey(order.Shopee, kb)

	sum := sha256.Sum256(kb)
	if want := "shopee:h:" + hex.EncodeToString(sum[:16]); key != want {
		t.Fatalf("HashKey = %q, want %q", key, want)
	}
	for _, p := range []order.Platform{order.Shopee, order.Lazada, order.TikTok} {
		if k := HashKey(p, kb); !regexp.MustCompile(`^` + string(p) + `:h:[0-9a-f]{32}$`).MatchString(k) {
			t.Errorf("HashKey(%s) = %q", p, k)
		}
	}
	if HashKey(order.Shopee, kb) != key {
		t.Errorf("HashKey is not deterministic")
	}
	// Moving a boundary between fields changes the key, although the
	// concatenated contents stay the same.
	a := HashKey(order.Lazada, AppendField(AppendField(nil, "12"), "3"))
	b := HashKey(order.Lazada, AppendField(AppendField(nil, "1"), "23"))
	c := HashKey(order.Lazada, AppendField(AppendField(nil, "123"), ""))
	if a == b || a == c || b == c {
		t.Errorf("keys collide: %q %q %q", a, b, c)
	}
	if HashKey(order.Shopee, nil) == HashKey(order.Shopee, AppendField(nil, "")) {
		t.Errorf("no fields and one empty field share a key")
	}
}
