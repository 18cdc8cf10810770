package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
	"github.com/orderlane/orderlane/store/postgres"
	"github.com/orderlane/orderlane/store/storetest"
)

// TestShopConformance runs the shop store suite (store/storetest) on
// PostgreSQL, each case in its own schema.
func TestShopConformance(t *testing.T) {
	t.Parallel()
	if os.Getenv(envURL) == "" {
		t.Skipf("PostgreSQL tests need %s", envURL)
	}
	storetest.RunShops(t, storetest.ShopDriver{
		NewDatabase: func(t *testing.T) storetest.ShopDatabase {
			db := newDatabase(t)
			raw := func(t *testing.T) *pgx.Conn {
				t.Helper()
				conn, err := pgx.Connect(context.Background(), db.url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { conn.Close(context.Background()) })
				return conn
			}
			return storetest.ShopDatabase{
				Open: func(t *testing.T, sealer *shop.Sealer) shop.Store {
					return db.open(t, postgres.Config{}).Shops(sealer)
				},
				Sealed: func(t *testing.T, p order.Platform, shopID string) []byte {
					var b []byte
					if err := raw(t).QueryRow(context.Background(), `SELECT token_sealed FROM shops WHERE platform = $1 AND shop_id = $2`,
						string(p), shopID).Scan(&b); err != nil {
						t.Fatal(err)
					}
					return b
				},
				SetSealed: func(t *testing.T, p order.Platform, shopID string, sealed []byte) {
					if _, err := raw(t).Exec(context.Background(), `UPDATE shops SET token_sealed = $1 WHERE platform = $2 AND shop_id = $3`,
						sealed, string(p), shopID); err != nil {
						t.Fatal(err)
					}
				},
			}
		},
	})
}
