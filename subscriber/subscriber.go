// Package subscriber holds the handlers of orderlane's own subscriptions to
// the topic: orders (maintains the order store) and audit (append-only log
// of every accepted event).
package subscriber

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderlane/orderlane/audit"
	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/order"
)

// Subscription names and filters.
const (
	OrdersName   = "orders"
	OrdersFilter = "*.order" // order events of every platform
	AuditName    = "audit"
	AuditFilter  = ">" // everything, notices included
)

// Orders applies each order event to the repository. Failures are
// classified for the subscription (see Classify): an event that does not
// decode or does not validate (order.Event.Validate) is permanent and
// dead-lettered at once; an unavailable store pauses the subscription
// without counting attempts; any other store error is retried.
type Orders struct {
	repo    order.Repository
	log     *slog.Logger
	unknown *prometheus.CounterVec
	applied *prometheus.CounterVec
}

// NewOrders returns the orders handler; reg may be nil.
func NewOrders(repo order.Repository, log *slog.Logger, reg prometheus.Registerer) *Orders {
	o := &Orders{
		repo: repo, log: log,
		unknown: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderlane_unknown_status_total",
			Help: "Order events whose raw status has no unified mapping, by platform and raw status.",
		}, []string{"platform", "platform_status"}),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderlane_order_events_total",
			Help: "Order events processed, by platform and outcome (applied, duplicate, stale).",
		}, []string{"platform", "outcome"}),
	}
	if reg != nil {
		reg.MustRegister(o.unknown, o.applied)
	}
	return o
}

// Handle implements bus.Handler.
func (o *Orders) Handle(ctx context.Context, d *bus.Delivery) error {
	e, err := order.DecodeEvent(d.Data, d.Seq)
	if err != nil {
		return bus.Permanent(fmt.Errorf("orders: decode event seq %d: %w", d.Seq, err))
	}
	if !e.Kind.IsOrder() || e.OrderID == "" {
		return bus.Permanent(fmt.Errorf("orders: event seq %d is not an order event", d.Seq))
	}
	if err := e.Validate(); err != nil {
		return bus.Permanent(fmt.Errorf("orders: event seq %d: %w", d.Seq, err))
	}
	res, err := o.repo.Apply(ctx, &e)
	if err != nil {
		return Classify(fmt.Errorf("orders: apply event seq %d: %w", d.Seq, err))
	}
	outcome := "applied"
	switch {
	case res.Outcome == order.Duplicate:
		outcome = "duplicate"
	case res.Stale:
		outcome = "stale"
	}
	o.applied.WithLabelValues(string(e.Platform), outcome).Inc()
	if res.Outcome == order.Applied && e.Status == order.StatusUnknown {
		o.unknown.WithLabelValues(string(e.Platform), e.PlatformStatus).Inc()
		o.log.Warn("unknown platform status kept raw", "platform", e.Platform, "platform_status", e.PlatformStatus, "group", d.Group)
	}
	return nil
}

// Audit appends every event to the audit log.
type Audit struct{ log audit.Log }

// NewAudit returns the audit handler.
func NewAudit(log audit.Log) *Audit { return &Audit{log: log} }

// Handle implements bus.Handler.
func (a *Audit) Handle(ctx context.Context, d *bus.Delivery) error {
	e, err := order.DecodeEvent(d.Data, d.Seq)
	if err != nil {
		return bus.Permanent(fmt.Errorf("audit: decode event seq %d: %w", d.Seq, err))
	}
	if err := a.log.Append(ctx, &e); err != nil {
		return Classify(fmt.Errorf("audit: append event seq %d: %w", d.Seq, err))
	}
	return nil
}

// Classify marks a store error for the subscription: order.ErrUnavailable
// (locked, full, failing I/O) as bus.Unavailable, so the subscription
// pauses and nothing is dead-lettered for an outage; order.ErrInvalidEvent
// and order.ErrRejected (the store cannot hold the event as it is) as
// bus.Permanent; anything else stays retryable (backoff, then the
// dead-letter stream after the subscription's attempts or age).
func Classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, order.ErrInvalidEvent), errors.Is(err, order.ErrRejected):
		return bus.Permanent(err)
	case errors.Is(err, order.ErrUnavailable):
		return bus.Unavailable(err)
	}
	return err
}
