package shop_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/orderlane/orderlane/shop"
)

func TestChange(t *testing.T) {
	t.Parallel()
	s := newSealer(t, newKey(t))
	rec, err := s.Seal(connection())
	if err != nil {
		t.Fatal(err)
	}

	c, next, err := s.Change(rec, func(c *shop.Connection) error {
		c.State, c.Token.AccessToken, c.LastError = shop.Expired, "access-2", strings.Repeat("e", shop.MaxLastError+10)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.LastError) != shop.MaxLastError || c.LastError != next.LastError {
		t.Fatalf("returned LastError is %d bytes, stored %d; want both %d", len(c.LastError), len(next.LastError), shop.MaxLastError)
	}
	opened, err := s.Open(next)
	if err != nil {
		t.Fatal(err)
	}
	if opened.State != shop.Expired || opened.Token.AccessToken != "access-2" || opened != c {
		t.Fatalf("sealed change = %+v, returned %+v", opened, c)
	}

	boom := errors.New("boom")
	if _, _, err := s.Change(rec, func(*shop.Connection) error { return boom }); err != boom { //nolint:errorlint // returned as it is
		t.Fatalf("fn's error = %v, want it as it is", err)
	}
	if _, _, err := s.Change(rec, func(c *shop.Connection) error { c.ShopID += "x"; return nil }); !errors.Is(err, shop.ErrInvalid) {
		t.Fatalf("identity change = %v, want ErrInvalid", err)
	}
	rec.TokenSealed[len(rec.TokenSealed)-1] ^= 1
	if _, _, err := s.Change(rec, func(*shop.Connection) error { t.Fatal("fn ran on a damaged record"); return nil }); !errors.Is(err, shop.ErrBadSeal) {
		t.Fatalf("damaged record = %v, want ErrBadSeal", err)
	}
}
