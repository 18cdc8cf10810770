package sqlite_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
	"github.com/orderlane/orderlane/store/sqlite"
	"github.com/orderlane/orderlane/store/storetest"
)

// TestShopConformance runs the shop store suite (store/storetest): each
// case on its own database file.
func TestShopConformance(t *testing.T) {
	t.Parallel()
	storetest.RunShops(t, storetest.ShopDriver{
		NewDatabase: func(t *testing.T) storetest.ShopDatabase {
			path := filepath.Join(t.TempDir(), "o.db")
			raw := func(t *testing.T) *sql.DB {
				t.Helper()
				db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
			return storetest.ShopDatabase{
				Open: func(t *testing.T, sealer *shop.Sealer) shop.Store {
					t.Helper()
					s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { s.Close() })
					return s.Shops(sealer)
				},
				Sealed: func(t *testing.T, p order.Platform, shopID string) []byte {
					var b []byte
					if err := raw(t).QueryRow(`SELECT token_sealed FROM shops WHERE platform = ? AND shop_id = ?`, string(p), shopID).Scan(&b); err != nil {
						t.Fatal(err)
					}
					return b
				},
				SetSealed: func(t *testing.T, p order.Platform, shopID string, sealed []byte) {
					if _, err := raw(t).Exec(`UPDATE shops SET token_sealed = ? WHERE platform = ? AND shop_id = ?`, sealed, string(p), shopID); err != nil {
						t.Fatal(err)
					}
				},
			}
		},
	})
}

// TestShopTokensNotInTheFile: no byte of the database file or its WAL
// holds a token in plaintext.
func TestShopTokensNotInTheFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "o.db")})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, shop.KeySize)
	_, _ = rand.Read(key)
	sealer, err := shop.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	tok := marketplace.Token{AccessToken: "plain-access-token-4f1d", RefreshToken: "plain-refresh-token-8c2e"}
	err = s.Shops(sealer).Put(context.Background(), shop.Connection{
		Shop:  marketplace.Shop{Platform: order.Shopee, ShopID: "336094210", Token: tok},
		State: shop.Connected,
	})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "o.db*"))
	checked, sawShop := 0, false
	check := func() {
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue // the WAL is gone after Close
			}
			checked += len(b)
			for _, secret := range []string{tok.AccessToken, tok.RefreshToken} {
				if bytes.Contains(b, []byte(secret)) {
					t.Fatalf("%s holds a token in plaintext", filepath.Base(f))
				}
			}
			sawShop = sawShop || bytes.Contains(b, []byte("336094210"))
		}
	}
	check() // the WAL, before a checkpoint
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check() // the database file after the checkpoint at Close
	if checked == 0 || !sawShop {
		t.Fatalf("read %d bytes, shop row seen: %v; want the files that hold the row", checked, sawShop)
	}
}
