package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orderlane/orderlane/audit"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/store/internal/page"
)

var (
	_ order.Repository = (*Store)(nil)
	_ audit.Log        = (*Store)(nil)
)

const orderCols = `platform, shop_id, order_id, status, platform_status, platform_update, created_at, updated_at, last_seq, event_count`

// The write path. loadOrderSQL locks the order's row for the rest of the
// transaction. The two writes insert the history entry (a key applied
// before makes it a no-op: a duplicate) and, only if it was inserted,
// update the locked row or insert a new one; they answer (events inserted,
// orders written).
const (
	loadOrderSQL = `SELECT ` + orderCols + ` FROM orders
		WHERE platform = $1 AND shop_id = $2 AND order_id = $3 FOR UPDATE`
	insertEventCTE = `WITH ev AS (
		INSERT INTO order_events (platform, shop_id, order_id, seq, key, kind, push_type,
			platform_status, status, update_time, received_at, applied_at, status_changed, stale, payload)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (key) DO NOTHING
		RETURNING 1
	)`
	updateOrderSQL = insertEventCTE + `, up AS (
		UPDATE orders SET status = $16, platform_status = $17, platform_update = $18,
			updated_at = $19, last_seq = $20, event_count = $21
		WHERE platform = $1 AND shop_id = $2 AND order_id = $3 AND EXISTS (SELECT 1 FROM ev)
		RETURNING 1
	)
	SELECT (SELECT count(*) FROM ev), (SELECT count(*) FROM up)`
	// A new order: if another transaction created the row since this one
	// looked, the insert fails on the primary key and the apply runs again
	// (isRetryable), now reading and locking that row.
	insertOrderSQL = insertEventCTE + `, up AS (
		INSERT INTO orders (` + orderCols + `)
		SELECT $1, $2, $3, $16::text, $17::text, $18::timestamptz, $22::timestamptz,
			$19::timestamptz, $20::bigint, $21::integer
		WHERE EXISTS (SELECT 1 FROM ev)
		RETURNING 1
	)
	SELECT (SELECT count(*) FROM ev), (SELECT count(*) FROM up)`
	auditSQL = `INSERT INTO audit_log (seq, platform, shop_id, order_id, kind, push_type, key, received_at, recorded_at, payload)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (seq, key) DO NOTHING`
)

func scanOrder(row pgx.Row) (order.Order, error) {
	var (
		o                order.Order
		platform, status string
		pupdate          *time.Time
		lastSeq          int64
	)
	err := row.Scan(&platform, &o.ShopID, &o.OrderID, &status, &o.PlatformStatus, &pupdate,
		&o.CreatedAt, &o.UpdatedAt, &lastSeq, &o.EventCount)
	if err != nil {
		return o, err
	}
	o.Platform, o.Status = order.Platform(platform), order.Status(status)
	o.PlatformUpdateTime = fromNull(pupdate)
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	o.LastSeq = uint64(lastSeq) // #nosec G115 -- stored from a uint64 that fit
	return o, nil
}

// Apply records e in its order's history and folds it into the order by
// order.(*Order).Apply, atomically. It is idempotent: see order.Repository.
func (s *Store) Apply(ctx context.Context, e *order.Event) (order.ApplyResult, error) {
	if !e.Kind.IsOrder() || e.OrderID == "" {
		return order.ApplyResult{}, fmt.Errorf("postgres: apply: event %s is not an order event: %w", e.Key, order.ErrRejected)
	}
	if e.Seq > math.MaxInt64 {
		return order.ApplyResult{}, fmt.Errorf("postgres: apply: event %s: sequence %d out of range: %w", e.Key, e.Seq, order.ErrRejected)
	}
	// The status rule compares what is stored: microseconds.
	a := &applyStep{e: *e}
	a.e.UpdateTime = a.e.UpdateTime.Truncate(time.Microsecond)
	a.e.ReceivedAt = a.e.ReceivedAt.Truncate(time.Microsecond)
	lock := "o\x00" + string(e.Platform) + "\x00" + e.ShopID + "\x00" + e.OrderID
	if err := s.write(ctx, lock, a); err != nil {
		return order.ApplyResult{}, fmt.Errorf("postgres: apply %s: %w", e.Key, err)
	}
	return a.res, nil
}

// applyStep is one apply: read and lock the order's row, fold the event
// into it in Go (the status rule), write the history entry and the row.
type applyStep struct {
	e      order.Event
	o      order.Order
	exists bool
	res    order.ApplyResult
}

func (a *applyStep) read(b *pgx.Batch) {
	b.Queue(loadOrderSQL, string(a.e.Platform), a.e.ShopID, a.e.OrderID)
}

func (a *applyStep) scan(br pgx.BatchResults) error {
	o, err := scanOrder(br.QueryRow())
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("load order: %w", err)
	}
	a.o, a.exists = o, err == nil
	return nil
}

func (a *applyStep) write(b *pgx.Batch) {
	e, o := &a.e, &a.o
	now := time.Now().UTC().Truncate(time.Microsecond)
	a.res = o.Apply(e, now)
	q := updateOrderSQL
	if !a.exists {
		q = insertOrderSQL
	}
	args := []any{
		string(e.Platform), e.ShopID, e.OrderID, int64(e.Seq), e.Key, string(e.Kind), e.PushType, // #nosec G115 -- checked in Apply
		e.PlatformStatus, string(e.Status), null(e.UpdateTime), e.ReceivedAt, now,
		a.res.StatusChanged, a.res.Stale, bytes(e.Payload),
		string(o.Status), o.PlatformStatus, null(o.PlatformUpdateTime), o.UpdatedAt, int64(o.LastSeq), o.EventCount, // #nosec G115 -- max of checked sequences
	}
	if !a.exists {
		args = append(args, o.CreatedAt)
	}
	b.Queue(q, args...)
}

func (a *applyStep) done(br pgx.BatchResults) error {
	var events, orders int
	if err := br.QueryRow().Scan(&events, &orders); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	switch {
	case events == 0:
		a.res = order.ApplyResult{Outcome: order.Duplicate} // key applied before; nothing written
	case orders == 0:
		// Cannot be (the row is locked, or the insert failed): the batch
		// fails as a whole rather than keep half a write.
		return errors.New("write: order row vanished under its lock")
	}
	return nil
}

// Get returns one order, its detail included, or order.ErrNotFound.
func (s *Store) Get(ctx context.Context, k order.Key) (order.Order, error) {
	var det []byte
	o, err := scanOrder(detailRow{s.r.QueryRow(ctx, `SELECT `+orderCols+`, detail FROM orders WHERE platform = $1 AND shop_id = $2 AND order_id = $3`,
		string(k.Platform), k.ShopID, k.OrderID), &det})
	if errors.Is(err, pgx.ErrNoRows) {
		return order.Order{}, order.ErrNotFound
	}
	if err != nil {
		return order.Order{}, fmt.Errorf("postgres: get order: %w", classify(err))
	}
	if o.Detail, err = decodeDetail(det); err != nil {
		return order.Order{}, fmt.Errorf("postgres: get order: %w", err)
	}
	return o, nil
}

// Events returns the order's history in processing order, or
// order.ErrNotFound when the order does not exist.
func (s *Store) Events(ctx context.Context, k order.Key) ([]order.EventRecord, error) {
	rows, err := s.r.Query(ctx, `SELECT seq, key, kind, push_type, platform_status, status, update_time,
			received_at, applied_at, status_changed, stale
		FROM order_events WHERE platform = $1 AND shop_id = $2 AND order_id = $3 ORDER BY id`,
		string(k.Platform), k.ShopID, k.OrderID)
	if err != nil {
		return nil, fmt.Errorf("postgres: events: %w", classify(err))
	}
	defer rows.Close()
	out := []order.EventRecord{}
	for rows.Next() {
		var (
			r            order.EventRecord
			seq          int64
			kind, status string
			upd          *time.Time
		)
		if err := rows.Scan(&seq, &r.Key, &kind, &r.PushType, &r.PlatformStatus, &status, &upd,
			&r.ReceivedAt, &r.AppliedAt, &r.StatusChanged, &r.Stale); err != nil {
			return nil, fmt.Errorf("postgres: events: %w", classify(err))
		}
		r.Seq = uint64(seq) // #nosec G115 -- stored from a uint64 that fit
		r.Kind, r.Status = order.Kind(kind), order.Status(status)
		r.UpdateTime, r.ReceivedAt, r.AppliedAt = fromNull(upd), r.ReceivedAt.UTC(), r.AppliedAt.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: events: %w", classify(err))
	}
	if len(out) == 0 {
		if _, err := s.Get(ctx, k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// cursor is List's position: the last order of the page. The same format
// as store/sqlite's (UpdatedAt in Unix nanoseconds).
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
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Platform != "" {
		where = append(where, "platform = "+arg(string(f.Platform)))
	}
	if f.ShopID != "" {
		where = append(where, "shop_id = "+arg(f.ShopID))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(string(f.Status)))
	}
	if !f.UpdatedSince.IsZero() {
		where = append(where, "updated_at >= "+arg(f.UpdatedSince))
	}
	if f.Cursor != "" {
		c, err := page.Decode(f.Cursor)
		if err != nil {
			return order.Page{}, err
		}
		where = append(where, fmt.Sprintf("(updated_at, platform, shop_id, order_id) > (%s, %s, %s, %s)",
			arg(time.Unix(0, c.UpdatedAt)), arg(c.Platform), arg(c.ShopID), arg(c.OrderID)))
	}
	q := `SELECT ` + orderCols + ` FROM orders`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ") // #nosec G202 -- constant fragments; values are bound parameters
	}
	q += " ORDER BY updated_at, platform, shop_id, order_id LIMIT " + arg(limit+1)
	rows, err := s.r.Query(ctx, q, args...)
	if err != nil {
		return order.Page{}, fmt.Errorf("postgres: list: %w", classify(err))
	}
	defer rows.Close()
	p := order.Page{Orders: []order.Order{}}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return order.Page{}, fmt.Errorf("postgres: list: %w", classify(err))
		}
		p.Orders = append(p.Orders, o)
	}
	if err := rows.Err(); err != nil {
		return order.Page{}, fmt.Errorf("postgres: list: %w", classify(err))
	}
	return page.Cut(p.Orders, limit), nil
}

// Append records e in the audit log; a second append of the same event
// (same topic sequence and key: a redelivery) changes nothing.
func (s *Store) Append(ctx context.Context, e *order.Event) error {
	if e.Seq > math.MaxInt64 {
		return fmt.Errorf("postgres: audit append %s: sequence %d out of range: %w", e.Key, e.Seq, order.ErrRejected)
	}
	lock := "a\x00" + strconv.FormatUint(e.Seq, 10) + "\x00" + e.Key
	if err := s.write(ctx, lock, &auditStep{e: e}); err != nil {
		return fmt.Errorf("postgres: audit append %s: %w", e.Key, err)
	}
	return nil
}

// auditStep is one audit append: a single insert, no reads.
type auditStep struct{ e *order.Event }

func (a *auditStep) read(*pgx.Batch) {}

func (a *auditStep) scan(pgx.BatchResults) error { return nil }

func (a *auditStep) write(b *pgx.Batch) {
	e := a.e
	b.Queue(auditSQL, int64(e.Seq), string(e.Platform), e.ShopID, e.OrderID, string(e.Kind), e.PushType, e.Key, // #nosec G115 -- checked in Append
		e.ReceivedAt.Truncate(time.Microsecond), time.Now().UTC(), bytes(e.Payload))
}

func (a *auditStep) done(br pgx.BatchResults) error {
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	return nil
}

// AuditCount returns how many events the audit log holds.
func (s *Store) AuditCount(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: audit count: %w", classify(err))
	}
	return n, nil
}

// null stores a zero time as NULL.
func null(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// bytes stores a nil payload as an empty one (the column is NOT NULL).
func bytes(p []byte) []byte {
	if p == nil {
		return []byte{}
	}
	return p
}
