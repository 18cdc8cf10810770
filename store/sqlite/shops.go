package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
	"github.com/orderlane/orderlane/store/internal/shoprow"
)

var _ shop.Store = (*Shops)(nil)

const (
	loadShopSQL   = `SELECT ` + shoprow.Columns + ` FROM shops WHERE platform = ? AND shop_id = ?`
	listShopsSQL  = `SELECT ` + shoprow.Columns + ` FROM shops WHERE ? = '' OR platform = ? ORDER BY platform, shop_id`
	upsertShopSQL = `INSERT INTO shops (` + shoprow.Columns + `) VALUES (?,?,?,?,?,?,?,?,?,?)` + shoprow.Upsert
)

// Shops is the shop store (shop.Store) on the store's database file,
// sharing its writer: tokens are sealed with a shop.Sealer before they
// reach the database.
type Shops struct {
	s      *Store
	sealer *shop.Sealer
}

// errNoSealer is a wiring error: Shops was given no sealer.
var errNoSealer = errors.New("sqlite: shops: no token sealer")

// Shops returns the shop store on s's database, sealing and opening tokens
// with sealer (required: with nil every call fails). It stops with s.
func (s *Store) Shops(sealer *shop.Sealer) *Shops { return &Shops{s: s, sealer: sealer} }

// Put creates or replaces a connection: see shop.Store.
func (sh *Shops) Put(ctx context.Context, c shop.Connection) error {
	if sh.sealer == nil {
		return errNoSealer
	}
	r, err := sh.sealer.Seal(c)
	if err != nil {
		return err
	}
	r.UpdatedAt = time.Now().UTC()
	err = sh.s.write(ctx, func(t *txn) error { return putShop(t, r) })
	if err != nil {
		return fmt.Errorf("sqlite: put shop %s/%s: %w", c.Platform, c.ShopID, translate(err))
	}
	return nil
}

func putShop(t *txn, r shop.Record) error {
	_, err := t.stmt(t.s.upsertShop).ExecContext(t.ctx, string(r.Platform), r.ShopID, r.Cipher, r.Region, string(r.State),
		nanos(r.ConnectedAt), nanos(r.UpdatedAt), nanos(r.ReconciledUntil), r.LastError, r.TokenSealed)
	return err
}

// Update changes a connection atomically: see shop.Store.
func (sh *Shops) Update(ctx context.Context, p order.Platform, shopID string, fn func(*shop.Connection) error) (shop.Connection, error) {
	if sh.sealer == nil {
		return shop.Connection{}, errNoSealer
	}
	var out shop.Connection
	err := sh.s.write(ctx, func(t *txn) error {
		r, err := scanShop(t.stmt(t.s.loadShop).QueryRowContext(t.ctx, string(p), shopID))
		if errors.Is(err, sql.ErrNoRows) {
			return shop.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		c, r, err := sh.sealer.Change(r, fn)
		if err != nil {
			return err
		}
		r.UpdatedAt = time.Now().UTC()
		if err := putShop(t, r); err != nil {
			return err
		}
		c.UpdatedAt = r.UpdatedAt
		out = c
		return nil
	})
	if err != nil {
		return shop.Connection{}, fmt.Errorf("sqlite: update shop %s/%s: %w", p, shopID, translate(err))
	}
	return out, nil
}

// Get returns one connection: see shop.Store.
func (sh *Shops) Get(ctx context.Context, p order.Platform, shopID string) (shop.Connection, error) {
	if sh.sealer == nil {
		return shop.Connection{}, errNoSealer
	}
	r, err := scanShop(sh.s.r.QueryRowContext(ctx, loadShopSQL, string(p), shopID))
	if errors.Is(err, sql.ErrNoRows) {
		return shop.Connection{}, shop.ErrNotFound
	}
	if err != nil {
		return shop.Connection{}, fmt.Errorf("sqlite: get shop %s/%s: %w", p, shopID, translate(err))
	}
	return sh.sealer.Open(r)
}

// List returns the connections of p ("" for all) by platform, then shop
// id (byte order); one token that does not open fails the whole list.
func (sh *Shops) List(ctx context.Context, p order.Platform) ([]shop.Connection, error) {
	if sh.sealer == nil {
		return nil, errNoSealer
	}
	rows, err := sh.s.r.QueryContext(ctx, listShopsSQL, string(p), string(p))
	if err != nil {
		return nil, listErr(err)
	}
	defer rows.Close()
	return shoprow.List(rows, scanShop, sh.sealer, listErr)
}

func listErr(err error) error { return fmt.Errorf("sqlite: list shops: %w", translate(err)) }

func scanShop(row shoprow.Scanner) (shop.Record, error) {
	var connected, up, reconc int64
	r, err := shoprow.Scan(row, &connected, &up, &reconc)
	if err != nil {
		return r, err
	}
	r.ConnectedAt, r.UpdatedAt, r.ReconciledUntil = fromNanos(connected), fromNanos(up), fromNanos(reconc)
	return r, nil
}
