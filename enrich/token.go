package enrich

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/shop"
)

// ErrShopExpired is wrapped by Token's error when the marketplace refused
// to refresh the shop's token: Token has marked the shop shop.Expired, and
// the seller must authorise orderlane again.
var ErrShopExpired = errors.New("shop authorisation expired")

// Token returns conn's API identity with an access token that is valid at
// now. A token that is still valid is returned as stored, without I/O. An
// expired one is renewed through client.Refresh and the new token stored
// with shops.Update (which keeps a watermark another task moved meanwhile).
//
// If the marketplace refuses the refresh (marketplace.ErrAuth: the refresh
// token expired or was revoked), Token marks the shop shop.Expired with
// LastError and returns an error wrapping ErrShopExpired and
// marketplace.ErrAuth. Other refresh failures (rate limit, outage) are
// returned as they are and change nothing.
//
// Refresh tokens are single-use (Shopee, and the sandbox for all three):
// when two tasks refresh one shop at once, the marketplace refuses the
// second. Token then takes the token the first one stored rather than
// expiring the shop. Callers that race often (a handler with many groups
// in flight) also put it behind a singleflight per shop, as Enricher
// does, to spend one refresh rather than two.
func Token(ctx context.Context, client marketplace.Client, shops shop.Store, conn shop.Connection, now time.Time) (marketplace.Shop, error) {
	if now.Before(conn.Token.AccessExpiresAt) {
		return conn.Shop, nil
	}
	return refresh(ctx, client, shops, conn, now)
}

// refresh renews conn's token unconditionally (also when the marketplace
// refused a token that had not expired yet).
func refresh(ctx context.Context, client marketplace.Client, shops shop.Store, conn shop.Connection, now time.Time) (marketplace.Shop, error) {
	if !conn.Token.RefreshExpiresAt.IsZero() && !now.Before(conn.Token.RefreshExpiresAt) {
		return marketplace.Shop{}, expire(ctx, shops, conn, "refresh token expired")
	}
	tok, err := client.Refresh(ctx, conn.Shop)
	switch {
	case errors.Is(err, marketplace.ErrAuth):
		// Refresh tokens are single-use: another task may have spent this
		// one a moment ago. Its stored result is then the answer.
		if cur, gerr := shops.Get(ctx, conn.Platform, conn.ShopID); gerr == nil && cur.State == shop.Connected &&
			cur.Token.RefreshToken != conn.Token.RefreshToken && now.Before(cur.Token.AccessExpiresAt) {
			return cur.Shop, nil
		}
		return marketplace.Shop{}, expire(ctx, shops, conn, "token refresh refused: "+err.Error())
	case err != nil:
		return marketplace.Shop{}, fmt.Errorf("enrich: refresh token of %s shop %s: %w", conn.Platform, conn.ShopID, err)
	}
	stored, err := shops.Update(ctx, conn.Platform, conn.ShopID, func(c *shop.Connection) error {
		c.Token = tok
		c.LastError = ""
		return nil
	})
	if err != nil {
		return marketplace.Shop{}, fmt.Errorf("enrich: store refreshed token of %s shop %s: %w", conn.Platform, conn.ShopID, err)
	}
	return stored.Shop, nil
}

// expire marks the shop Expired with reason and returns the error Token
// reports for it.
func expire(ctx context.Context, shops shop.Store, conn shop.Connection, reason string) error {
	_, err := shops.Update(ctx, conn.Platform, conn.ShopID, func(c *shop.Connection) error {
		c.State = shop.Expired
		c.LastError = truncate(reason, maxLastError)
		return nil
	})
	if err != nil {
		return fmt.Errorf("enrich: mark %s shop %s expired: %w", conn.Platform, conn.ShopID, err)
	}
	return fmt.Errorf("enrich: %s shop %s: %w (%w)", conn.Platform, conn.ShopID, ErrShopExpired, marketplace.ErrAuth)
}

// maxLastError bounds the text kept in Connection.LastError.
const maxLastError = 512

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
