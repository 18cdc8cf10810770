package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/orderlane/orderlane/order"
)

// ErrClosed is returned by writes after Close.
var ErrClosed = fmt.Errorf("postgres: store closed: %w", order.ErrUnavailable)

// classify translates a pgx error into the domain's terms at the edge:
// pgx.ErrNoRows becomes order.ErrNotFound; an outage (no connection, server
// shutting down or out of resources, a timeout) is wrapped with
// order.ErrUnavailable; data the server refuses for what it is (bad
// encoding, a NUL byte, a value out of range, a row too large) is wrapped
// with order.ErrRejected. Anything else, a caller's own cancellation
// included, is returned as it is.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return order.ErrNotFound
	}
	if errors.Is(err, order.ErrUnavailable) || errors.Is(err, order.ErrRejected) || errors.Is(err, order.ErrNotFound) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case retryable(pe):
			return fmt.Errorf("%w: %w", order.ErrUnavailable, err)
		case len(pe.Code) == 5 && pe.Code[:2] == "22", // data exception: encoding, NUL, range
			pe.Code == "54000": // program limit exceeded: index row too large
			return fmt.Errorf("%w: %w", order.ErrRejected, err)
		case len(pe.Code) == 5 && (pe.Code[:2] == "08" || pe.Code[:2] == "53" || pe.Code[:2] == "57"):
			// connection exception; insufficient resources; operator
			// intervention (shutdown, cancel by statement_timeout)
			return fmt.Errorf("%w: %w", order.ErrUnavailable, err)
		}
		return err
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("%w: %w", order.ErrUnavailable, err)
	}
	return err
}

// isRetryable reports whether err is a PostgreSQL error that running the
// same write again can cure: a deadlock, a serialisation failure, or a new
// order's row created by another transaction after this one looked.
func isRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (retryable(pe) || pe.Code == "23505" && pe.ConstraintName == "orders_pkey")
}

// isServerError reports whether err is the server refusing a statement
// (as opposed to a lost connection or a client-side failure).
func isServerError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe)
}

// retryable reports whether a statement failed only because of another
// transaction (deadlock, serialisation failure): the same work run again
// can succeed.
func retryable(pe *pgconn.PgError) bool {
	return pe.Code == "40P01" || pe.Code == "40001"
}
