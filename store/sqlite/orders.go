package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/store/internal/page"
)

var _ order.Repository = (*Store)(nil)

const orderCols = `platform, shop_id, order_id, status, platform_status, platform_update, created_at, updated_at, last_seq, event_count`

type scanner interface{ Scan(dest ...any) error }

func scanOrder(row scanner) (order.Order, error) {
	var (
		o                    order.Order
		platform, status     string
		pupdate, created, up int64
	)
	err := row.Scan(&platform, &o.ShopID, &o.OrderID, &status, &o.PlatformStatus, &pupdate, &created, &up, &o.LastSeq, &o.EventCount)
	if err != nil {
		return o, err
	}
	o.Platform, o.Status = order.Platform(platform), order.Status(status)
	o.PlatformUpdateTime, o.CreatedAt, o.UpdatedAt = fromNanos(pupdate), fromNanos(created), fromNanos(up)
	return o, nil
}

// Statements of the write path, prepared once (see statements).
const (
	loadOrderSQL   = `SELECT ` + orderCols + ` FROM orders WHERE platform = ? AND shop_id = ? AND order_id = ?`
	upsertOrderSQL = `INSERT INTO orders (` + orderCols + `) VALUES (?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (platform, shop_id, order_id) DO UPDATE SET
			status = excluded.status, platform_status = excluded.platform_status,
			platform_update = excluded.platform_update, updated_at = excluded.updated_at,
			last_seq = excluded.last_seq, event_count = excluded.event_count`
	// A key applied before makes the insert a no-op (0 rows): a duplicate.
	insertEventSQL = `INSERT INTO order_events (platform, shop_id, order_id, seq, key, kind, push_type,
			platform_status, status, update_time, received_at, applied_at, status_changed, stale, payload)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (key) DO NOTHING`
	// The API's look-ups, prepared once on the read pool (see reads).
	getOrderSQL = `SELECT ` + orderCols + `, detail
		FROM orders LEFT JOIN order_details USING (platform, shop_id, order_id)
		WHERE platform = ? AND shop_id = ? AND order_id = ?`
	eventsSQL = `SELECT seq, key, kind, push_type, platform_status, status, update_time,
			received_at, applied_at, status_changed, stale
		FROM order_events WHERE platform = ? AND shop_id = ? AND order_id = ? ORDER BY id`
	auditSQL = `INSERT INTO audit_log (seq, platform, shop_id, order_id, kind, push_type, key, received_at, recorded_at, payload)
		VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (seq, key) DO NOTHING`
)

// Apply records e in its order's history and folds it into the order by
// order.(*Order).Apply, atomically. It is idempotent: see order.Repository.
func (s *Store) Apply(ctx context.Context, e *order.Event) (order.ApplyResult, error) {
	if !e.Kind.IsOrder() || e.OrderID == "" {
		return order.ApplyResult{}, fmt.Errorf("sqlite: apply: event %s is not an order event", e.Key)
	}
	var res order.ApplyResult
	err := s.write(ctx, func(t *txn) error {
		var err error
		res, err = applyTx(t, e, time.Now().UTC())
		return err
	})
	return res, translate(err)
}

func applyTx(t *txn, e *order.Event, now time.Time) (order.ApplyResult, error) {
	o, err := scanOrder(t.stmt(t.s.loadOrder).QueryRowContext(t.ctx, string(e.Platform), e.ShopID, e.OrderID))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return order.ApplyResult{}, fmt.Errorf("sqlite: load order: %w", err)
	}
	res := o.Apply(e, now)
	r, err := t.stmt(t.s.insertEvent).ExecContext(t.ctx,
		string(e.Platform), e.ShopID, e.OrderID, e.Seq, e.Key, string(e.Kind), e.PushType,
		e.PlatformStatus, string(e.Status), nanos(e.UpdateTime), nanos(e.ReceivedAt), nanos(now),
		res.StatusChanged, res.Stale, payload(e.Payload))
	if err != nil {
		return order.ApplyResult{}, fmt.Errorf("sqlite: insert event: %w", err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return order.ApplyResult{}, fmt.Errorf("sqlite: insert event: %w", err)
	} else if n == 0 {
		return order.ApplyResult{Outcome: order.Duplicate}, nil // key applied before; nothing written
	}
	if _, err := t.stmt(t.s.upsertOrder).ExecContext(t.ctx,
		string(o.Platform), o.ShopID, o.OrderID, string(o.Status), o.PlatformStatus,
		nanos(o.PlatformUpdateTime), nanos(o.CreatedAt), nanos(o.UpdatedAt), o.LastSeq, o.EventCount); err != nil {
		return order.ApplyResult{}, fmt.Errorf("sqlite: upsert order: %w", err)
	}
	return res, nil
}

// Get returns one order, its detail included, or order.ErrNotFound.
func (s *Store) Get(ctx context.Context, k order.Key) (order.Order, error) {
	var det []byte
	o, err := scanOrder(detailScanner{s.reads.getOrder.QueryRowContext(ctx,
		string(k.Platform), k.ShopID, k.OrderID), &det})
	if errors.Is(err, sql.ErrNoRows) {
		return o, order.ErrNotFound
	}
	if err != nil {
		return o, fmt.Errorf("sqlite: get order: %w", err)
	}
	if o.Detail, err = decodeDetail(det); err != nil {
		return order.Order{}, err
	}
	return o, nil
}

// detailScanner scans an order's columns followed by its detail.
type detailScanner struct {
	row    scanner
	detail *[]byte
}

func (d detailScanner) Scan(dest ...any) error { return d.row.Scan(append(dest, d.detail)...) }

// Events returns the order's history in processing order, or
// order.ErrNotFound when the order does not exist.
func (s *Store) Events(ctx context.Context, k order.Key) ([]order.EventRecord, error) {
	rows, err := s.reads.events.QueryContext(ctx, string(k.Platform), k.ShopID, k.OrderID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events: %w", err)
	}
	defer rows.Close()
	out := []order.EventRecord{}
	for rows.Next() {
		var (
			r                  order.EventRecord
			kind, status       string
			upd, recv, applied int64
		)
		if err := rows.Scan(&r.Seq, &r.Key, &kind, &r.PushType, &r.PlatformStatus, &status, &upd, &recv, &applied,
			&r.StatusChanged, &r.Stale); err != nil {
			return nil, fmt.Errorf("sqlite: events: %w", err)
		}
		r.Kind, r.Status = order.Kind(kind), order.Status(status)
		r.UpdateTime, r.ReceivedAt, r.AppliedAt = fromNanos(upd), fromNanos(recv), fromNanos(applied)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: events: %w", err)
	}
	if len(out) == 0 {
		if _, err := s.Get(ctx, k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// List returns orders by ascending UpdatedAt (then identity), so a client
// that follows NextCursor sees every order changed since it started, and an
// order changed during the walk again at the end. It leaves Detail nil
// (see order.Order.Detail).
func (s *Store) List(ctx context.Context, f order.Filter) (order.Page, error) {
	limit := page.Limit(f)
	var (
		where []string
		args  []any
	)
	if f.Platform != "" {
		where, args = append(where, "platform = ?"), append(args, string(f.Platform))
	}
	if f.ShopID != "" {
		where, args = append(where, "shop_id = ?"), append(args, f.ShopID)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if !f.UpdatedSince.IsZero() {
		where, args = append(where, "updated_at >= ?"), append(args, nanos(f.UpdatedSince))
	}
	if f.Cursor != "" {
		c, err := page.Decode(f.Cursor)
		if err != nil {
			return order.Page{}, err
		}
		where = append(where, "(updated_at, platform, shop_id, order_id) > (?, ?, ?, ?)")
		args = append(args, c.UpdatedAt, c.Platform, c.ShopID, c.OrderID)
	}
	q := `SELECT ` + orderCols + ` FROM orders`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ") // #nosec G202 -- constant fragments; values are bound parameters
	}
	q += " ORDER BY updated_at, platform, shop_id, order_id LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return order.Page{}, fmt.Errorf("sqlite: list: %w", err)
	}
	defer rows.Close()
	p := order.Page{Orders: []order.Order{}}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return order.Page{}, fmt.Errorf("sqlite: list: %w", err)
		}
		p.Orders = append(p.Orders, o)
	}
	if err := rows.Err(); err != nil {
		return order.Page{}, fmt.Errorf("sqlite: list: %w", err)
	}
	return page.Cut(p.Orders, limit), nil
}

// Append records e in the audit log; a second append of the same event
// (same topic sequence and key: a redelivery) changes nothing.
func (s *Store) Append(ctx context.Context, e *order.Event) error {
	return translate(s.write(ctx, func(t *txn) error {
		_, err := t.stmt(t.s.audit).ExecContext(t.ctx,
			e.Seq, string(e.Platform), e.ShopID, e.OrderID, string(e.Kind), e.PushType, e.Key,
			nanos(e.ReceivedAt), nanos(time.Now()), payload(e.Payload))
		if err != nil {
			return fmt.Errorf("sqlite: audit append: %w", err)
		}
		return nil
	}))
}

// AuditCount returns how many events the audit log holds.
func (s *Store) AuditCount(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: audit count: %w", err)
	}
	return n, nil
}

// payload stores a missing payload as an empty one (the columns are NOT
// NULL; an event decoded without a body must not fail forever).
func payload(p []byte) []byte {
	if p == nil {
		return []byte{}
	}
	return p
}
