package shop_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
)

func newKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, shop.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func newSealer(t testing.TB, key []byte) *shop.Sealer {
	t.Helper()
	s, err := shop.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var token = marketplace.Token{
	AccessToken: "access-5a1e2b7c", RefreshToken: "refresh-9f8e7d6c",
	AccessExpiresAt: time.Date(2026, 11, 11, 12, 0, 0, 0, time.UTC), RefreshExpiresAt: time.Date(2026, 12, 11, 0, 0, 0, 0, time.UTC),
}

func connection() shop.Connection {
	return shop.Connection{
		Shop:  marketplace.Shop{Platform: order.TikTok, ShopID: "7495", Cipher: "ROW_abc", Region: "sg", Token: token},
		State: shop.Connected, ConnectedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		ReconciledUntil: time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC), LastError: "none",
	}
}

func TestSealRoundTrip(t *testing.T) {
	t.Parallel()
	s := newSealer(t, newKey(t))
	r, err := s.Seal(connection())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{token.AccessToken, token.RefreshToken} {
		if bytes.Contains(r.TokenSealed, []byte(secret)) {
			t.Fatalf("sealed token contains %q in plaintext", secret)
		}
	}
	c, err := s.Open(r)
	if err != nil {
		t.Fatal(err)
	}
	want := connection()
	if c.Shop != want.Shop || c.State != want.State || !c.ConnectedAt.Equal(want.ConnectedAt) ||
		!c.ReconciledUntil.Equal(want.ReconciledUntil) || c.LastError != want.LastError {
		t.Fatalf("opened\n %+v\nwant\n %+v", c, want)
	}
	again, err := s.Seal(connection())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again.TokenSealed, r.TokenSealed) {
		t.Fatal("two seals of one token are equal: the nonce is not random")
	}
}

func TestOpenRefusesWrongKeyOtherShopAndDamage(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	s := newSealer(t, key)
	sealed, err := s.SealToken(order.TikTok, "7495", token)
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Clone(key)
	other[0] ^= 1
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	for _, c := range []struct {
		name   string
		s      *shop.Sealer
		p      order.Platform
		shopID string
		sealed []byte
	}{
		{"wrong key", newSealer(t, other), order.TikTok, "7495", sealed},
		{"another shop", s, order.TikTok, "7496", sealed},
		{"another platform", s, order.Shopee, "7495", sealed},
		{"one bit flipped", s, order.TikTok, "7495", flipped},
		{"truncated", s, order.TikTok, "7495", sealed[:20]},
		{"empty", s, order.TikTok, "7495", nil},
		{"unknown version", s, order.TikTok, "7495", append([]byte{2}, sealed[1:]...)},
	} {
		tok, err := c.s.OpenToken(c.p, c.shopID, c.sealed)
		if !errors.Is(err, shop.ErrBadSeal) || tok != (marketplace.Token{}) {
			t.Errorf("%s: %+v, %v; want ErrBadSeal and no token", c.name, tok, err)
		}
		if err != nil && (strings.Contains(err.Error(), token.AccessToken) || strings.Contains(err.Error(), hex.EncodeToString(key))) {
			t.Errorf("%s: the error shows a secret: %v", c.name, err)
		}
	}
	if _, err := s.OpenToken(order.TikTok, "7495", sealed); err != nil {
		t.Fatalf("right key and shop: %v", err)
	}
}

func TestNewSealerWantsKeySize(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := shop.NewSealer(make([]byte, n)); err == nil {
			t.Errorf("a %d-byte key was accepted", n)
		}
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	for _, s := range []string{
		hex.EncodeToString(key), strings.ToUpper(hex.EncodeToString(key)),
		base64.StdEncoding.EncodeToString(key), base64.RawStdEncoding.EncodeToString(key),
		base64.URLEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key),
		"  " + base64.StdEncoding.EncodeToString(key) + "\n",
	} {
		got, err := shop.ParseKey(s)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("ParseKey(%q) = %x, %v", s, got, err)
		}
	}
	secret := "not a key at all, but a secret-looking passphrase"
	for _, s := range []string{"", "   ", hex.EncodeToString(key[:16]), base64.StdEncoding.EncodeToString(key[:31]),
		base64.StdEncoding.EncodeToString(append(key, 1)), secret} {
		_, err := shop.ParseKey(s)
		if err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
			continue
		}
		if s != "" && strings.Contains(err.Error(), strings.TrimSpace(s)) && strings.TrimSpace(s) != "" {
			t.Errorf("ParseKey's error repeats the key: %v", err)
		}
	}
}

func TestSealValidates(t *testing.T) {
	t.Parallel()
	s := newSealer(t, newKey(t))
	for _, c := range []struct {
		name string
		edit func(*shop.Connection)
	}{
		{"unknown platform", func(c *shop.Connection) { c.Platform = "amazon" }},
		{"no shop id", func(c *shop.Connection) { c.ShopID = "" }},
		{"no state", func(c *shop.Connection) { c.State = "" }},
		{"long shop id", func(c *shop.Connection) { c.ShopID = strings.Repeat("1", shop.MaxIDLen+1) }},
		{"cipher not UTF-8", func(c *shop.Connection) { c.Cipher = "\xff" }},
		{"NUL in region", func(c *shop.Connection) { c.Region = "s\x00g" }},
	} {
		conn := connection()
		c.edit(&conn)
		if _, err := s.Seal(conn); !errors.Is(err, shop.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", c.name, err)
		}
	}
	conn := connection()
	conn.LastError = strings.Repeat("é", shop.MaxLastError) + "\x00"
	r, err := s.Seal(conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.LastError) > shop.MaxLastError || !strings.HasPrefix(conn.LastError, r.LastError) || strings.ContainsRune(r.LastError, 0xFFFD) {
		t.Fatalf("last error cut to %d bytes, not at a character boundary", len(r.LastError))
	}
}

// FuzzOpenToken: whatever a database holds, opening it fails cleanly or
// yields the token that was sealed (never a panic, never a forgery).
func FuzzOpenToken(f *testing.F) {
	s := newSealer(f, bytes.Repeat([]byte{7}, shop.KeySize))
	sealed, err := s.SealToken(order.Lazada, "1", token)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := s.OpenToken(order.Lazada, "1", b)
		if err != nil {
			if !errors.Is(err, shop.ErrBadSeal) {
				t.Fatalf("error %v does not wrap ErrBadSeal", err)
			}
			return
		}
		// Only token was ever sealed with this key for this shop (the
		// seed may come from another process: another nonce).
		if tok != token {
			t.Fatalf("opened a token nobody sealed: %+v", tok)
		}
	})
}

// FuzzParseKey: any text is a KeySize key or an error that does not
// repeat it.
func FuzzParseKey(f *testing.F) {
	f.Add(strings.Repeat("ab", shop.KeySize))
	f.Add(base64.StdEncoding.EncodeToString(make([]byte, shop.KeySize)))
	f.Add("not a key")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := shop.ParseKey(s)
		if err == nil && len(k) != shop.KeySize {
			t.Fatalf("ParseKey(%q) = %d bytes", s, len(k))
		}
		if err != nil && len(strings.TrimSpace(s)) > 8 && strings.Contains(err.Error(), strings.TrimSpace(s)) {
			t.Fatalf("the error repeats the input: %v", err)
		}
	})
}
