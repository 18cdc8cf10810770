package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/orderlane/orderlane/order"
)

var _ order.DetailRepository = (*Store)(nil)

const (
	loadDetailSQL   = `SELECT detail FROM order_details WHERE platform = ? AND shop_id = ? AND order_id = ?`
	upsertDetailSQL = `INSERT INTO order_details (platform, shop_id, order_id, detail) VALUES (?,?,?,?)
		ON CONFLICT (platform, shop_id, order_id) DO UPDATE SET detail = excluded.detail`
)

// SetDetail stores d for the order k by order.(*Order).SetDetail,
// creating the order if needed, atomically: see order.DetailRepository.
// The detail is kept as JSON beside the order's row.
func (s *Store) SetDetail(ctx context.Context, k order.Key, d order.Detail, status order.Status) (order.DetailResult, error) {
	enc, err := order.CheckDetail(k, &d, status)
	if err != nil {
		return order.DetailResult{}, fmt.Errorf("sqlite: set detail: %w", err)
	}
	var res order.DetailResult
	err = s.write(ctx, func(t *txn) error {
		var err error
		res, err = setDetailTx(t, k, d, enc, status, time.Now().UTC())
		return err
	})
	return res, translate(err)
}

func setDetailTx(t *txn, k order.Key, d order.Detail, enc []byte, status order.Status, now time.Time) (order.DetailResult, error) {
	o, err := scanOrder(t.stmt(t.s.loadOrder).QueryRowContext(t.ctx, string(k.Platform), k.ShopID, k.OrderID))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return order.DetailResult{}, fmt.Errorf("sqlite: load order: %w", err)
	}
	if err == nil {
		var stored []byte
		err := t.stmt(t.s.loadDetail).QueryRowContext(t.ctx, string(k.Platform), k.ShopID, k.OrderID).Scan(&stored)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return order.DetailResult{}, fmt.Errorf("sqlite: load detail: %w", err)
		}
		if o.Detail, err = decodeDetail(stored); err != nil {
			return order.DetailResult{}, err
		}
	}
	res := o.SetDetail(k, d, status, now)
	if !res.Stored {
		return res, nil
	}
	if _, err := t.stmt(t.s.upsertOrder).ExecContext(t.ctx,
		string(o.Platform), o.ShopID, o.OrderID, string(o.Status), o.PlatformStatus,
		nanos(o.PlatformUpdateTime), nanos(o.CreatedAt), nanos(o.UpdatedAt), o.LastSeq, o.EventCount); err != nil {
		return order.DetailResult{}, fmt.Errorf("sqlite: upsert order: %w", err)
	}
	if _, err := t.stmt(t.s.upsertDetail).ExecContext(t.ctx, string(k.Platform), k.ShopID, k.OrderID, string(enc)); err != nil {
		return order.DetailResult{}, fmt.Errorf("sqlite: upsert detail: %w", err)
	}
	return res, nil
}

// decodeDetail reads a stored detail; nil for none.
func decodeDetail(b []byte) (*order.Detail, error) {
	if b == nil {
		return nil, nil
	}
	var d order.Detail
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("sqlite: stored detail: %w", err)
	}
	return &d, nil
}
