// Package audit is the audit subscription: an append-only log of every event
// the gateway accepted, orders and notices alike.
package audit

import (
	"context"

	"github.com/orderlane/orderlane/order"
)

// Log is where the audit subscription writes. Append is idempotent by the
// event's topic sequence: appending a redelivered event changes nothing.
type Log interface {
	Append(ctx context.Context, e *order.Event) error
}
