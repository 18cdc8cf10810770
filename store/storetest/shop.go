package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
)

// ShopDriver tells the shop suite how to get shop stores.
type ShopDriver struct {
	// NewDatabase makes a fresh, empty database for one test (cleaned up
	// with t.Cleanup). Required.
	NewDatabase func(t *testing.T) ShopDatabase
}

// ShopDatabase is one test's database, seen through a shop store and
// around it.
type ShopDatabase struct {
	// Open opens a shop store on the database that seals tokens with s;
	// the driver closes what it opened at cleanup.
	Open func(t *testing.T, s *shop.Sealer) shop.Store
	// Sealed reads a shop's stored token column as it is on disk, and
	// SetSealed overwrites it (as someone with write access to the
	// database could).
	Sealed    func(t *testing.T, p order.Platform, shopID string) []byte
	SetSealed func(t *testing.T, p order.Platform, shopID string, sealed []byte)
}

// RunShops runs the shop.Store suite; each case is a parallel subtest on
// its own database.
func RunShops(t *testing.T, d ShopDriver) {
	t.Helper()
	for _, c := range []struct {
		name string
		fn   func(*testing.T, ShopDriver)
	}{
		{"PutGetRoundTrip", testShopRoundTrip},
		{"TokenSealedAtRest", testShopTokenSealedAtRest},
		{"WrongKeyRefused", testShopWrongKeyRefused},
		{"SealedTokenBoundToItsShop", testShopSealBoundToShop},
		{"ListOrderAndFilter", testShopList},
		{"PutRefusesInvalid", testShopPutInvalid},
		{"Update", testShopUpdate},
		{"ConcurrentUpdatesLoseNothing", testShopConcurrentUpdates},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, d)
		})
	}
}

func shopSealer(t *testing.T) *shop.Sealer {
	t.Helper()
	k := make([]byte, shop.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	s, err := shop.NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func conn(p order.Platform, id string) shop.Connection {
	return shop.Connection{
		Shop: marketplace.Shop{Platform: p, ShopID: id, Cipher: "ROW_" + id, Region: "sg", Token: marketplace.Token{
			AccessToken: "access-secret-" + id, RefreshToken: "refresh-secret-" + id,
			AccessExpiresAt: t0.Add(4 * time.Hour), RefreshExpiresAt: t0.Add(30 * 24 * time.Hour),
		}},
		State: shop.Connected, ConnectedAt: t0, ReconciledUntil: t0.Add(-time.Hour),
	}
}

func put(t *testing.T, s shop.Store, c shop.Connection) {
	t.Helper()
	if err := s.Put(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

func getShop(t *testing.T, s shop.Store, p order.Platform, id string) shop.Connection {
	t.Helper()
	c, err := s.Get(context.Background(), p, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sameConn fails t unless got is want, UpdatedAt aside.
func sameConn(t *testing.T, got, want shop.Connection) {
	t.Helper()
	if got.Platform != want.Platform || got.ShopID != want.ShopID || got.Cipher != want.Cipher || got.Region != want.Region ||
		got.Token.AccessToken != want.Token.AccessToken || got.Token.RefreshToken != want.Token.RefreshToken ||
		!got.Token.AccessExpiresAt.Equal(want.Token.AccessExpiresAt) || !got.Token.RefreshExpiresAt.Equal(want.Token.RefreshExpiresAt) ||
		got.State != want.State || !got.ConnectedAt.Equal(want.ConnectedAt) || !got.ReconciledUntil.Equal(want.ReconciledUntil) ||
		got.ConnectedAt.IsZero() != want.ConnectedAt.IsZero() || got.ReconciledUntil.IsZero() != want.ReconciledUntil.IsZero() ||
		got.LastError != want.LastError {
		// Not %+v of the connections: they hold tokens.
		t.Fatalf("connection %s/%s differs from what was put (state %s/%s, cipher %q/%q, region %q/%q, reconciled %v/%v, error %q/%q, tokens equal %v)",
			got.Platform, got.ShopID, got.State, want.State, got.Cipher, want.Cipher, got.Region, want.Region,
			got.ReconciledUntil, want.ReconciledUntil, got.LastError, want.LastError, got.Token == want.Token)
	}
}

func testShopRoundTrip(t *testing.T, d ShopDriver) {
	s := d.NewDatabase(t).Open(t, shopSealer(t))
	ctx := context.Background()
	if _, err := s.Get(ctx, order.TikTok, "1"); !errors.Is(err, shop.ErrNotFound) {
		t.Fatalf("unknown shop: %v, want ErrNotFound", err)
	}
	c := conn(order.TikTok, "1")
	before := time.Now().Add(-time.Second)
	put(t, s, c)
	got := getShop(t, s, order.TikTok, "1")
	sameConn(t, got, c)
	if got.UpdatedAt.Before(before) || got.UpdatedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("UpdatedAt %v, want the time of the put", got.UpdatedAt)
	}
	// Replace: new token, expired, an error, zero times.
	c.Token.AccessToken, c.State, c.LastError = "access-secret-2", shop.Expired, "refresh token expired"
	c.ReconciledUntil, c.Token.RefreshExpiresAt = time.Time{}, time.Time{}
	put(t, s, c)
	sameConn(t, getShop(t, s, order.TikTok, "1"), c)
	if l, err := s.List(ctx, ""); err != nil || len(l) != 1 {
		t.Fatalf("list after a replace: %d, %v; want 1", len(l), err)
	}
}

func testShopTokenSealedAtRest(t *testing.T, d ShopDriver) {
	db := d.NewDatabase(t)
	s := db.Open(t, shopSealer(t))
	c := conn(order.Lazada, "100")
	put(t, s, c)
	raw := db.Sealed(t, order.Lazada, "100")
	if len(raw) == 0 {
		t.Fatal("no sealed token stored")
	}
	for _, secret := range []string{c.Token.AccessToken, c.Token.RefreshToken} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatal("the stored token column holds a token in plaintext")
		}
	}
}

func testShopWrongKeyRefused(t *testing.T, d ShopDriver) {
	db := d.NewDatabase(t)
	put(t, db.Open(t, shopSealer(t)), conn(order.Shopee, "5"))
	other := db.Open(t, shopSealer(t))
	if c, err := other.Get(context.Background(), order.Shopee, "5"); !errors.Is(err, shop.ErrBadSeal) || c.Token.AccessToken != "" {
		t.Fatalf("get with another key: %v, want ErrBadSeal and no token", err)
	}
	if _, err := other.List(context.Background(), ""); !errors.Is(err, shop.ErrBadSeal) {
		t.Fatalf("list with another key: %v, want ErrBadSeal", err)
	}
}

// testShopSealBoundToShop: a sealed token copied onto another shop's row
// does not open there.
func testShopSealBoundToShop(t *testing.T, d ShopDriver) {
	db := d.NewDatabase(t)
	s := db.Open(t, shopSealer(t))
	put(t, s, conn(order.TikTok, "A"))
	put(t, s, conn(order.TikTok, "B"))
	a, b := db.Sealed(t, order.TikTok, "A"), db.Sealed(t, order.TikTok, "B")
	db.SetSealed(t, order.TikTok, "A", b)
	db.SetSealed(t, order.TikTok, "B", a)
	for _, id := range []string{"A", "B"} {
		if _, err := s.Get(context.Background(), order.TikTok, id); !errors.Is(err, shop.ErrBadSeal) {
			t.Fatalf("shop %s with the other's sealed token: %v, want ErrBadSeal", id, err)
		}
	}
	db.SetSealed(t, order.TikTok, "A", a)
	sameConn(t, getShop(t, s, order.TikTok, "A"), conn(order.TikTok, "A"))
}

func testShopList(t *testing.T, d ShopDriver) {
	s := d.NewDatabase(t).Open(t, shopSealer(t))
	ctx := context.Background()
	if l, err := s.List(ctx, ""); err != nil || l == nil || len(l) != 0 {
		t.Fatalf("empty list: %v, %v; want an empty slice", l, err)
	}
	type id struct {
		p  order.Platform
		id string
	}
	in := []id{{order.TikTok, "9"}, {order.Shopee, "20"}, {order.Lazada, "3"}, {order.Shopee, "100"}, {order.TikTok, "10"}, {order.Lazada, "1"}}
	for _, x := range in {
		put(t, s, conn(x.p, x.id))
	}
	want := slices.Clone(in)
	slices.SortFunc(want, func(a, b id) int {
		if a.p != b.p {
			return compare(string(a.p), string(b.p))
		}
		return compare(a.id, b.id)
	})
	l, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []id
	for _, c := range l {
		got = append(got, id{c.Platform, c.ShopID})
	}
	if !slices.Equal(got, want) {
		t.Fatalf("list order %v, want %v (by platform, then shop id as text)", got, want)
	}
	for _, c := range l {
		sameConn(t, c, conn(c.Platform, c.ShopID))
	}
	l, err = s.List(ctx, order.Shopee)
	if err != nil || len(l) != 2 || l[0].ShopID != "100" || l[1].ShopID != "20" {
		t.Fatalf("shopee only: %d, %v", len(l), err)
	}
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testShopPutInvalid(t *testing.T, d ShopDriver) {
	s := d.NewDatabase(t).Open(t, shopSealer(t))
	c := conn(order.Shopee, "1")
	c.State = "paused"
	if err := s.Put(context.Background(), c); !errors.Is(err, shop.ErrInvalid) {
		t.Fatalf("unknown state: %v, want ErrInvalid", err)
	}
	c = conn("amazon", "1")
	if err := s.Put(context.Background(), c); !errors.Is(err, shop.ErrInvalid) {
		t.Fatalf("unknown platform: %v, want ErrInvalid", err)
	}
	if l, err := s.List(context.Background(), ""); err != nil || len(l) != 0 {
		t.Fatalf("after invalid puts: %d, %v", len(l), err)
	}
}

func testShopUpdate(t *testing.T, d ShopDriver) {
	s := d.NewDatabase(t).Open(t, shopSealer(t))
	ctx := context.Background()
	if _, err := s.Update(ctx, order.Lazada, "1", func(*shop.Connection) error { return nil }); !errors.Is(err, shop.ErrNotFound) {
		t.Fatalf("update of an unknown shop: %v, want ErrNotFound", err)
	}
	put(t, s, conn(order.Lazada, "1"))
	want := conn(order.Lazada, "1")
	want.ReconciledUntil, want.Token.AccessToken = t0.Add(time.Hour), "access-secret-new"
	var seen shop.Connection // fn runs in the store's writer: no t.Fatal there
	got, err := s.Update(ctx, order.Lazada, "1", func(c *shop.Connection) error {
		seen = *c
		c.ReconciledUntil, c.Token.AccessToken = want.ReconciledUntil, want.Token.AccessToken
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sameConn(t, seen, conn(order.Lazada, "1"))
	sameConn(t, got, want)
	sameConn(t, getShop(t, s, order.Lazada, "1"), want)
	boom := errors.New("boom")
	if _, err := s.Update(ctx, order.Lazada, "1", func(c *shop.Connection) error {
		c.State = shop.Revoked
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("update whose fn fails: %v, want its error", err)
	}
	if _, err := s.Update(ctx, order.Lazada, "1", func(c *shop.Connection) error {
		c.ShopID = "2"
		return nil
	}); !errors.Is(err, shop.ErrInvalid) {
		t.Fatalf("update changing the identity: %v, want ErrInvalid", err)
	}
	if _, err := s.Update(ctx, order.Lazada, "1", func(c *shop.Connection) error {
		c.State = "gone"
		return nil
	}); !errors.Is(err, shop.ErrInvalid) {
		t.Fatalf("update to an invalid state: %v, want ErrInvalid", err)
	}
	sameConn(t, getShop(t, s, order.Lazada, "1"), want)
}

// testShopConcurrentUpdates: a token refresher and a reconciler change one
// shop at once, from two stores on one database; neither undoes the other.
func testShopConcurrentUpdates(t *testing.T, d ShopDriver) {
	db := d.NewDatabase(t)
	sealer := shopSealer(t)
	a, b := db.Open(t, sealer), db.Open(t, sealer)
	put(t, a, conn(order.Shopee, "7"))
	const n = 20
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			if _, err := a.Update(context.Background(), order.Shopee, "7", func(c *shop.Connection) error {
				c.Token.AccessToken = fmt.Sprint("access-", i)
				return nil
			}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() {
		for range n {
			if _, err := b.Update(context.Background(), order.Shopee, "7", func(c *shop.Connection) error {
				c.ReconciledUntil = c.ReconciledUntil.Add(time.Minute)
				return nil
			}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	c := getShop(t, a, order.Shopee, "7")
	if c.Token.AccessToken != fmt.Sprint("access-", n-1) || !c.ReconciledUntil.Equal(conn(order.Shopee, "7").ReconciledUntil.Add(n*time.Minute)) {
		t.Fatalf("after concurrent updates: token is the last %v, watermark %v (want +%d min)",
			c.Token.AccessToken == fmt.Sprint("access-", n-1), c.ReconciledUntil, n)
	}
}
