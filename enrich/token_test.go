package enrich_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/orderlane/orderlane/enrich"
	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
)

// TestTokenLosesRefreshRace: a caller holding a connection whose refresh
// token another task has just spent gets the token that task stored, and
// the shop stays connected; a refused refresh without such a winner
// expires the shop.
func TestTokenLosesRefreshRace(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	sh := f.shopeeShop(t, shop.Connected)
	stale, err := f.Shops.Get(ctx, order.Shopee, sh.ShopID)
	if err != nil {
		t.Fatal(err)
	}
	f.Clock.Set(stale.Token.AccessExpiresAt.Add(time.Second))
	client := f.Clients[order.Shopee]
	first, err := enrich.Token(ctx, client, f.Shops, stale, f.Clock.Now())
	if err != nil || first.Token.AccessToken == stale.Token.AccessToken {
		t.Fatalf("first refresh: %v", err)
	}
	second, err := enrich.Token(ctx, client, f.Shops, stale, f.Clock.Now())
	if err != nil || second.Token.AccessToken != first.Token.AccessToken {
		t.Fatalf("second refresh with the spent token: %v, token %v want %v", err, second.Token, first.Token)
	}
	if c, _ := f.Shops.Get(ctx, order.Shopee, sh.ShopID); c.State != shop.Connected {
		t.Fatalf("state %s after a lost race", c.State)
	}
	// Still valid: no refresh at all.
	cur, _ := f.Shops.Get(ctx, order.Shopee, sh.ShopID)
	calls := f.Count(order.Shopee, "")
	if got, err := enrich.Token(ctx, client, f.Shops, cur, f.Clock.Now()); err != nil || got.Token.AccessToken != cur.Token.AccessToken {
		t.Fatalf("valid token: %v", err)
	}
	if f.Count(order.Shopee, "") != calls {
		t.Fatal("a valid token cost an API call")
	}
	// A refresh token nobody else spent, refused: the shop expires.
	cur, err = f.Shops.Update(ctx, order.Shopee, sh.ShopID, func(c *shop.Connection) error {
		c.Token.AccessExpiresAt = f.Clock.Now().Add(-time.Second)
		c.Token.RefreshToken = "never-issued"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enrich.Token(ctx, client, f.Shops, cur, f.Clock.Now()); !errors.Is(err, enrich.ErrShopExpired) || !errors.Is(err, marketplace.ErrAuth) {
		t.Fatalf("refused refresh: %v, want ErrShopExpired and ErrAuth", err)
	}
	if c, _ := f.Shops.Get(ctx, order.Shopee, sh.ShopID); c.State != shop.Expired {
		t.Fatalf("state %s, want expired", c.State)
	}
}
