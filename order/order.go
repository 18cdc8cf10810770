package order

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned by a Repository when an order does not exist.
var ErrNotFound = errors.New("order not found")

// ErrUnavailable is wrapped by a Repository's errors when the store cannot
// be used for now (locked, busy, out of disk space, I/O failing, down):
// the same call can succeed later, and the event is not at fault.
var ErrUnavailable = errors.New("order store unavailable")

// ErrRejected marks a Repository error caused by the event itself: the
// store cannot hold it as it is (for example text the database refuses,
// such as a NUL byte in PostgreSQL). Retrying the same event fails again.
// Drivers wrap it (errors.Is).
var ErrRejected = errors.New("order store rejected the event")

// Key identifies one order across marketplaces.
type Key struct {
	Platform Platform
	ShopID   string
	OrderID  string
}

// Order is the unified view of one marketplace order.
type Order struct {
	Platform Platform `json:"platform"`
	ShopID   string   `json:"shop_id"`
	OrderID  string   `json:"order_id"`
	// Status is the unified status; StatusUnknown when the latest raw status
	// has no mapping.
	Status Status `json:"status"`
	// PlatformStatus is the marketplace's raw status as last applied.
	PlatformStatus string `json:"platform_status"`
	// PlatformUpdateTime is the marketplace's time of the status in force.
	PlatformUpdateTime time.Time `json:"platform_update_time"`
	// CreatedAt is when orderlane first saw the order.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when orderlane last changed the order (a new event, even
	// one that did not move the status).
	UpdatedAt time.Time `json:"updated_at"`
	// LastSeq is the highest topic sequence applied to the order
	// (informational: duplicates are recognised by idempotency key, so a
	// topic recreated with restarting sequences loses nothing).
	LastSeq uint64 `json:"last_seq"`
	// EventCount is how many distinct events were applied.
	EventCount int `json:"event_count"`
	// Detail is the order as the marketplace's API last reported it (see
	// DetailRepository); nil until enrichment or reconciliation fetched it.
	// Repository.Get returns it; Repository.List leaves it nil (a page of
	// 1000 orders would carry up to MaxDetailSize each): Get an order for
	// its detail.
	Detail *Detail `json:"detail,omitempty"`
}

// Key returns the order's identity.
func (o *Order) Key() Key { return Key{o.Platform, o.ShopID, o.OrderID} }

// Outcome says what applying one event did.
type Outcome int

// Outcomes of Apply.
const (
	// Applied: the event was recorded in the order's history.
	Applied Outcome = iota + 1
	// Duplicate: an event with the same idempotency key was applied
	// before (a redelivery, or the same push appended again); nothing
	// changed.
	Duplicate
)

// ApplyResult tells the caller what an event did to its order.
type ApplyResult struct {
	Outcome Outcome
	// StatusChanged is true when the event moved the order's status.
	StatusChanged bool
	// Stale is true when the event carried a status older than the order's
	// current one: kept in history, status untouched.
	Stale bool
}

// Apply is the status rule: it folds e into o. o is the order as stored (a
// zero Order for a first event, whose identity Apply fills in). An event
// moves the status only if it carries one and its UpdateTime is not older
// than the status in force, so out-of-order delivery never moves a status
// back. Events without a status (tracking, documents, ...) only join the
// history. Duplicate detection is the repository's job; Apply assumes e is
// new.
func (o *Order) Apply(e *Event, now time.Time) ApplyResult {
	if o.OrderID == "" {
		o.Platform, o.ShopID, o.OrderID = e.Platform, e.ShopID, e.OrderID
		o.CreatedAt = now
	}
	res := ApplyResult{Outcome: Applied}
	if e.PlatformStatus != "" && e.Status != "" {
		switch {
		case o.PlatformStatus != "" && e.UpdateTime.Before(o.PlatformUpdateTime):
			res.Stale = true
		case o.PlatformStatus != "" && e.UpdateTime.IsZero() && !o.PlatformUpdateTime.IsZero():
			res.Stale = true
		default:
			res.StatusChanged = o.Status != e.Status || o.PlatformStatus != e.PlatformStatus
			o.Status, o.PlatformStatus = e.Status, e.PlatformStatus
			o.PlatformUpdateTime = e.UpdateTime
		}
	}
	if e.Seq > o.LastSeq {
		o.LastSeq = e.Seq
	}
	o.EventCount++
	o.UpdatedAt = now
	return res
}

// MaxDetailSize caps a detail's JSON encoding. A store refuses a larger
// detail with ErrRejected (see CheckDetail).
const MaxDetailSize = 256 << 10

// DetailResult says what storing a detail did.
type DetailResult struct {
	// Stored is true when the detail replaced the stored one (or was the
	// first); false when the stored detail is newer.
	Stored bool
	// StatusChanged is true when the detail moved the order's Status or
	// PlatformStatus (see SetDetail).
	StatusChanged bool
	// Created is true when the order did not exist before: the detail
	// created it.
	Created bool
}

// DetailRepository stores the details the marketplace APIs return.
// SetDetail folds d into the order k by (*Order).SetDetail, atomically and
// serialised with Repository.Apply on the same order, creating the order
// when it does not exist yet (reconciliation can find an order before any
// push). status is d.Status mapped to the unified model, or "" to leave
// the order's status alone. A detail failing CheckDetail is refused with
// an error wrapping ErrRejected.
type DetailRepository interface {
	SetDetail(ctx context.Context, k Key, d Detail, status Status) (DetailResult, error)
}

// CheckDetail reports, wrapping ErrRejected, why a store cannot hold d for
// the order k with the given status: an incomplete key, a status outside
// the unified model, a status without d.Status, an update time more than
// MaxFutureSkew after the detail was fetched, or an encoding larger than
// MaxDetailSize. It returns d's JSON encoding, which the stores keep.
func CheckDetail(k Key, d *Detail, status Status) ([]byte, error) {
	bad := func(format string, args ...any) ([]byte, error) {
		return nil, fmt.Errorf("%w: detail of %s/%s/%s: %s", ErrRejected, k.Platform, k.ShopID, k.OrderID, fmt.Sprintf(format, args...))
	}
	switch {
	case !k.Platform.Valid():
		return bad("platform %q", k.Platform)
	case k.ShopID == "" || k.OrderID == "":
		return bad("no shop or order id")
	case status != "" && !status.Valid():
		return bad("status %q is not a unified status", status)
	case status != "" && d.Status == "":
		return bad("status %q without the marketplace's raw status", status)
	case !d.UpdateTime.IsZero() && !d.FetchedAt.IsZero() && d.UpdateTime.Sub(d.FetchedAt) > MaxFutureSkew:
		return bad("update time %s is more than %s after it was fetched at %s",
			d.UpdateTime.UTC().Format(time.RFC3339), MaxFutureSkew, d.FetchedAt.UTC().Format(time.RFC3339))
	}
	b, err := json.Marshal(d)
	if err != nil {
		return bad("encode: %v", err)
	}
	if len(b) > MaxDetailSize {
		return bad("%d bytes encoded, at most %d", len(b), MaxDetailSize)
	}
	return b, nil
}

// SetDetail is the detail rule: it folds d, fetched from the marketplace's
// API, into o (the order as stored, its Detail included; a zero Order for
// an order not seen before, whose identity SetDetail fills in from k).
//
//   - d replaces the stored detail unless it is older (d.UpdateTime before
//     the stored detail's): a detail never moves back.
//   - If d is stored, status is not "" and d.UpdateTime is after the
//     status in force (o.PlatformUpdateTime), or o has no status yet, the
//     order's Status, PlatformStatus (d.Status) and PlatformUpdateTime move
//     to the detail's. Strictly after: a push of the same instant keeps
//     its status. This is how a lost status push is repaired and how
//     Lazada's per-line statuses converge to the order's.
//
// UpdatedAt moves to now only when something other than d.FetchedAt
// changed, so re-fetching an unchanged order does not list it as changed.
// d is copied; o.Detail never aliases the caller's value.
func (o *Order) SetDetail(k Key, d Detail, status Status, now time.Time) DetailResult {
	var res DetailResult
	if o.OrderID == "" {
		o.Platform, o.ShopID, o.OrderID = k.Platform, k.ShopID, k.OrderID
		o.CreatedAt, o.UpdatedAt = now, now
		res.Created = true
	}
	if o.Detail != nil && d.UpdateTime.Before(o.Detail.UpdateTime) {
		return res
	}
	res.Stored = true
	changed := o.Detail == nil || !sameDetail(o.Detail, &d)
	o.Detail = &d
	if status != "" && d.Status != "" && (o.PlatformStatus == "" || d.UpdateTime.After(o.PlatformUpdateTime)) {
		res.StatusChanged = o.Status != status || o.PlatformStatus != d.Status
		changed = changed || res.StatusChanged || !o.PlatformUpdateTime.Equal(d.UpdateTime)
		o.Status, o.PlatformStatus, o.PlatformUpdateTime = status, d.Status, d.UpdateTime
	}
	if changed {
		o.UpdatedAt = now
	}
	return res
}

// sameDetail reports whether a and b say the same, FetchedAt aside.
func sameDetail(a, b *Detail) bool {
	x, y := *a, *b
	x.FetchedAt, y.FetchedAt = time.Time{}, time.Time{}
	ja, err1 := json.Marshal(x)
	jb, err2 := json.Marshal(y)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// EventRecord is one event in an order's history, as processed.
type EventRecord struct {
	Seq            uint64    `json:"seq"`
	Key            string    `json:"key"`
	Kind           Kind      `json:"kind"`
	PushType       string    `json:"push_type"`
	PlatformStatus string    `json:"platform_status,omitempty"`
	Status         Status    `json:"status,omitempty"`
	UpdateTime     time.Time `json:"update_time,omitzero"`
	ReceivedAt     time.Time `json:"received_at"`
	AppliedAt      time.Time `json:"applied_at"`
	StatusChanged  bool      `json:"status_changed"`
	Stale          bool      `json:"stale"`
}

// Filter selects orders for List. Zero fields do not filter.
type Filter struct {
	Platform     Platform
	ShopID       string
	Status       Status
	UpdatedSince time.Time
	// Limit caps the page size. Defaults to 100, at most 1000.
	Limit int
	// Cursor continues a previous page (Page.NextCursor).
	Cursor string
}

// Page is one page of List, ordered by UpdatedAt, then identity.
type Page struct {
	Orders []Order
	// NextCursor is empty on the last page.
	NextCursor string
}

// ErrBadCursor is returned by List for a cursor it did not issue.
var ErrBadCursor = errors.New("bad cursor")

// Repository stores orders. Implementations own the transaction: Apply is
// atomic (order row and history entry together) and idempotent (an event
// whose Key was applied before changes nothing and reports Duplicate).
type Repository interface {
	Apply(ctx context.Context, e *Event) (ApplyResult, error)
	Get(ctx context.Context, k Key) (Order, error)
	Events(ctx context.Context, k Key) ([]EventRecord, error)
	List(ctx context.Context, f Filter) (Page, error)
	// Ping reports whether the store is usable.
	Ping(ctx context.Context) error
}
