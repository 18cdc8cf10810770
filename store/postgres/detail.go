package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orderlane/orderlane/order"
)

var _ order.DetailRepository = (*Store)(nil)

// The detail's write path: read and lock the order's row with its detail,
// then update it or insert the new order (a lost race for a new order's
// row fails on the primary key and is run again, see isRetryable).
const (
	loadOrderDetailSQL = `SELECT ` + orderCols + `, detail FROM orders
		WHERE platform = $1 AND shop_id = $2 AND order_id = $3 FOR UPDATE`
	updateDetailSQL = `UPDATE orders SET status = $4, platform_status = $5, platform_update = $6,
			updated_at = $7, detail = $8::jsonb
		WHERE platform = $1 AND shop_id = $2 AND order_id = $3`
	insertDetailSQL = `INSERT INTO orders (` + orderCols + `, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $9, $7, 0, 0, $8::jsonb)`
)

// SetDetail stores d for the order k by order.(*Order).SetDetail,
// creating the order if needed, atomically and serialised with Apply on
// the same order (the same row lock): see order.DetailRepository. The
// detail's times are kept to the microsecond, like the order's. A text
// PostgreSQL cannot hold (a NUL character, also as \u0000 in JSON) is
// refused with order.ErrRejected.
func (s *Store) SetDetail(ctx context.Context, k order.Key, d order.Detail, status order.Status) (order.DetailResult, error) {
	d.UpdateTime = d.UpdateTime.Truncate(time.Microsecond)
	d.CreateTime = d.CreateTime.Truncate(time.Microsecond)
	d.FetchedAt = d.FetchedAt.Truncate(time.Microsecond)
	enc, err := order.CheckDetail(k, &d, status)
	if err != nil {
		return order.DetailResult{}, fmt.Errorf("postgres: set detail: %w", err)
	}
	st := &detailStep{k: k, d: d, enc: enc, status: status}
	lock := "o\x00" + string(k.Platform) + "\x00" + k.ShopID + "\x00" + k.OrderID
	if err := s.write(ctx, lock, st); err != nil {
		return order.DetailResult{}, fmt.Errorf("postgres: set detail of %s/%s/%s: %w", k.Platform, k.ShopID, k.OrderID, err)
	}
	return st.res, nil
}

// detailStep is one SetDetail: read and lock the order with its detail,
// fold the detail in in Go (the detail rule), write the row if the detail
// is stored.
type detailStep struct {
	k      order.Key
	d      order.Detail
	enc    []byte
	status order.Status

	o      order.Order
	exists bool
	wrote  bool
	res    order.DetailResult
}

func (a *detailStep) read(b *pgx.Batch) {
	b.Queue(loadOrderDetailSQL, string(a.k.Platform), a.k.ShopID, a.k.OrderID)
}

func (a *detailStep) scan(br pgx.BatchResults) error {
	var det []byte
	o, err := scanOrder(detailRow{br.QueryRow(), &det})
	if errors.Is(err, pgx.ErrNoRows) {
		a.o, a.exists = order.Order{}, false
		return nil
	}
	if err != nil {
		return fmt.Errorf("load order: %w", err)
	}
	if o.Detail, err = decodeDetail(det); err != nil {
		return err
	}
	a.o, a.exists = o, true
	return nil
}

func (a *detailStep) write(b *pgx.Batch) {
	o := &a.o
	now := time.Now().UTC().Truncate(time.Microsecond)
	a.res = o.SetDetail(a.k, a.d, a.status, now)
	a.wrote = a.res.Stored
	if !a.wrote {
		return
	}
	args := []any{string(a.k.Platform), a.k.ShopID, a.k.OrderID, string(o.Status), o.PlatformStatus,
		null(o.PlatformUpdateTime), o.UpdatedAt, string(a.enc)}
	if a.exists {
		b.Queue(updateDetailSQL, args...)
	} else {
		b.Queue(insertDetailSQL, append(args, o.CreatedAt)...)
	}
}

func (a *detailStep) done(br pgx.BatchResults) error {
	if !a.wrote {
		return nil
	}
	tag, err := br.Exec()
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return errors.New("write: order row vanished under its lock")
	}
	return nil
}

// detailRow scans an order's columns followed by its detail.
type detailRow struct {
	row    pgx.Row
	detail *[]byte
}

func (d detailRow) Scan(dest ...any) error { return d.row.Scan(append(dest, d.detail)...) }

// decodeDetail reads a stored detail; nil for none.
func decodeDetail(b []byte) (*order.Detail, error) {
	if b == nil {
		return nil, nil
	}
	var d order.Detail
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("stored detail: %w", err)
	}
	return &d, nil
}
