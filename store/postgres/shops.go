package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
	"github.com/orderlane/orderlane/store/internal/shoprow"
)

var _ shop.Store = (*Shops)(nil)

const (
	loadShopSQL   = `SELECT ` + shoprow.Columns + ` FROM shops WHERE platform = $1 AND shop_id = $2`
	listShopsSQL  = `SELECT ` + shoprow.Columns + ` FROM shops WHERE $1 = '' OR platform = $1 ORDER BY platform, shop_id`
	upsertShopSQL = `INSERT INTO shops (` + shoprow.Columns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)` + shoprow.Upsert
)

// Shops is the shop store (shop.Store) on the store's schema, sharing its
// writers: tokens are sealed with a shop.Sealer before they reach the
// database. Times are kept to the microsecond.
type Shops struct {
	s      *Store
	sealer *shop.Sealer
}

// errNoSealer is a wiring error: Shops was given no sealer.
var errNoSealer = errors.New("postgres: shops: no token sealer")

// Shops returns the shop store on s's schema, sealing and opening tokens
// with sealer (required: with nil every call fails). It stops with s.
func (s *Store) Shops(sealer *shop.Sealer) *Shops { return &Shops{s: s, sealer: sealer} }

func shopLock(p order.Platform, shopID string) string { return "s\x00" + string(p) + "\x00" + shopID }

// Put creates or replaces a connection: see shop.Store.
func (sh *Shops) Put(ctx context.Context, c shop.Connection) error {
	if sh.sealer == nil {
		return errNoSealer
	}
	r, err := sh.sealer.Seal(c)
	if err != nil {
		return err
	}
	if err := sh.s.write(ctx, shopLock(c.Platform, c.ShopID), &shopStep{rec: r}); err != nil {
		return fmt.Errorf("postgres: put shop %s/%s: %w", c.Platform, c.ShopID, err)
	}
	return nil
}

// Update changes a connection atomically: see shop.Store. The row is
// locked (SELECT ... FOR UPDATE) from the read to the commit.
func (sh *Shops) Update(ctx context.Context, p order.Platform, shopID string, fn func(*shop.Connection) error) (shop.Connection, error) {
	if sh.sealer == nil {
		return shop.Connection{}, errNoSealer
	}
	st := &shopStep{update: fn, sealer: sh.sealer, p: p, shopID: shopID}
	if err := sh.s.write(ctx, shopLock(p, shopID), st); err != nil {
		return shop.Connection{}, fmt.Errorf("postgres: update shop %s/%s: %w", p, shopID, err)
	}
	c := st.out
	c.UpdatedAt = st.rec.UpdatedAt
	return c, nil
}

// shopStep writes one shop's row: rec as it is (Put), or what update
// makes of the row read and locked first (Update).
type shopStep struct {
	rec shop.Record

	update func(*shop.Connection) error
	sealer *shop.Sealer
	p      order.Platform
	shopID string
	out    shop.Connection
}

func (a *shopStep) read(b *pgx.Batch) {
	if a.update != nil {
		b.Queue(loadShopSQL+` FOR UPDATE`, string(a.p), a.shopID)
	}
}

// scan runs the update: it may run again if the write loses a race.
func (a *shopStep) scan(br pgx.BatchResults) error {
	if a.update == nil {
		return nil
	}
	r, err := scanShop(br.QueryRow())
	if errors.Is(err, pgx.ErrNoRows) {
		return shop.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	a.out, a.rec, err = a.sealer.Change(r, a.update)
	return err
}

func (a *shopStep) write(b *pgx.Batch) {
	r := &a.rec
	r.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	b.Queue(upsertShopSQL, string(r.Platform), r.ShopID, r.Cipher, r.Region, string(r.State),
		null(r.ConnectedAt.Truncate(time.Microsecond)), r.UpdatedAt, null(r.ReconciledUntil.Truncate(time.Microsecond)),
		r.LastError, r.TokenSealed)
}

func (a *shopStep) done(br pgx.BatchResults) error {
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// Get returns one connection: see shop.Store.
func (sh *Shops) Get(ctx context.Context, p order.Platform, shopID string) (shop.Connection, error) {
	if sh.sealer == nil {
		return shop.Connection{}, errNoSealer
	}
	r, err := scanShop(sh.s.r.QueryRow(ctx, loadShopSQL, string(p), shopID))
	if errors.Is(err, pgx.ErrNoRows) {
		return shop.Connection{}, shop.ErrNotFound
	}
	if err != nil {
		return shop.Connection{}, fmt.Errorf("postgres: get shop %s/%s: %w", p, shopID, classify(err))
	}
	return sh.sealer.Open(r)
}

// List returns the connections of p ("" for all) by platform, then shop
// id (byte order); one token that does not open fails the whole list.
func (sh *Shops) List(ctx context.Context, p order.Platform) ([]shop.Connection, error) {
	if sh.sealer == nil {
		return nil, errNoSealer
	}
	rows, err := sh.s.r.Query(ctx, listShopsSQL, string(p))
	if err != nil {
		return nil, listErr(err)
	}
	defer rows.Close()
	return shoprow.List(rows, scanShop, sh.sealer, listErr)
}

func listErr(err error) error { return fmt.Errorf("postgres: list shops: %w", classify(err)) }

func scanShop(row shoprow.Scanner) (shop.Record, error) {
	var (
		connected, reconc *time.Time
		up                time.Time
	)
	r, err := shoprow.Scan(row, &connected, &up, &reconc)
	if err != nil {
		return r, err
	}
	r.ConnectedAt, r.UpdatedAt, r.ReconciledUntil = fromNull(connected), up.UTC(), fromNull(reconc)
	return r, nil
}
