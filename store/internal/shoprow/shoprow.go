// Package shoprow is what the store drivers share of the shops table: its
// columns and the reading of its rows into records and connections. The
// SQL and the time encoding stay with each driver.
package shoprow

import (
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
)

// Columns are the shops table's columns, in the order the drivers insert
// and scan them.
const Columns = `platform, shop_id, cipher, region, state, connected_at, updated_at, reconciled_until, last_error, token_sealed`

// Upsert follows a driver's INSERT INTO shops (Columns) VALUES (...):
// a row of the same shop replaces every column but the key. SQLite and
// PostgreSQL spell it alike.
const Upsert = `
		ON CONFLICT (platform, shop_id) DO UPDATE SET
			cipher = excluded.cipher, region = excluded.region, state = excluded.state,
			connected_at = excluded.connected_at, updated_at = excluded.updated_at,
			reconciled_until = excluded.reconciled_until, last_error = excluded.last_error,
			token_sealed = excluded.token_sealed`

// Scanner is one row of a driver (database/sql's *sql.Row and *sql.Rows,
// pgx.Row and pgx.Rows).
type Scanner interface{ Scan(dest ...any) error }

// Rows is a driver's result set.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Scan reads a row of Columns into a record, except its times: those of
// connected_at, updated_at and reconciled_until are scanned into the
// driver's destinations connected, updated and reconciled, for the driver
// to decode into the record.
func Scan(row Scanner, connected, updated, reconciled any) (shop.Record, error) {
	var (
		r               shop.Record
		platform, state string
	)
	if err := row.Scan(&platform, &r.ShopID, &r.Cipher, &r.Region, &state, connected, updated, reconciled,
		&r.LastError, &r.TokenSealed); err != nil {
		return r, err
	}
	r.Platform, r.State = order.Platform(platform), shop.State(state)
	return r, nil
}

// List reads every row of rows with scan and opens it with sealer. A scan
// or iteration failure is returned through wrap (the driver's translation
// and prefix); a token that does not open fails the whole list with the
// sealer's error as it is. The list is empty, not nil, without rows.
func List(rows Rows, scan func(Scanner) (shop.Record, error), sealer *shop.Sealer, wrap func(error) error) ([]shop.Connection, error) {
	out := []shop.Connection{}
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, wrap(err)
		}
		c, err := sealer.Open(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}
