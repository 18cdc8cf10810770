// Package shop keeps the shops connected to orderlane: each shop's API
// identity and tokens (encrypted at rest), its connection state, and its
// reconciliation watermark.
package shop

import (
	"context"
	"errors"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
)

// ErrNotFound is returned for a shop that was never connected.
var ErrNotFound = errors.New("shop not found")

// State is a shop's connection state.
type State string

// Connection states.
const (
	// Connected: the shop's tokens work (as far as orderlane knows).
	Connected State = "connected"
	// Expired: the refresh token expired or was refused; the seller must
	// authorise again. Pushes still flow; enrichment and reconciliation
	// pause for the shop.
	Expired State = "expired"
	// Revoked: the marketplace told orderlane (an authorisation push) that
	// the seller cancelled or the authorisation ended.
	Revoked State = "revoked"
)

// Connection is one shop as orderlane holds it.
type Connection struct {
	// Shop is the API identity with its token (plaintext in memory only).
	marketplace.Shop
	State State
	// ConnectedAt is when the seller last authorised; UpdatedAt when the
	// record last changed.
	ConnectedAt time.Time
	UpdatedAt   time.Time
	// ReconciledUntil is the reconciliation watermark: orders updated
	// before it have been pulled.
	ReconciledUntil time.Time
	// LastError is the last API error for the shop (never a secret).
	LastError string
}

// Store keeps connections. Implementations encrypt tokens at rest with a
// Sealer (store/sqlite and store/postgres: Store.Shops(sealer)): a
// database read without the key shows no token. A row whose token does not
// open (another key, or copied from another shop) fails with an error
// wrapping ErrBadSeal. Database failures wrap order.ErrUnavailable, like
// the order stores'.
type Store interface {
	// Put creates or replaces the connection of (Platform, ShopID). It
	// refuses an invalid connection (Connection.Validate, ErrInvalid) and
	// sets UpdatedAt to the time of the write.
	Put(ctx context.Context, c Connection) error
	// Update changes the connection of (p, shopID) atomically: fn gets it
	// as stored and edits it; its changes are stored unless fn returns an
	// error, which Update returns. Use it rather than Get then Put when
	// two tasks change one shop (a token refresh and the reconciliation
	// watermark), so neither undoes the other. fn runs inside the store's
	// write transaction: it must be quick, do no I/O and only edit its
	// argument (it may run again if the write loses a race to another
	// process). The identity (Platform, ShopID) cannot change
	// (ErrInvalid). ErrNotFound for an unknown shop.
	Update(ctx context.Context, p order.Platform, shopID string, fn func(*Connection) error) (Connection, error)
	// Get returns one connection or ErrNotFound.
	Get(ctx context.Context, p order.Platform, shopID string) (Connection, error)
	// List returns the connections of p ("" for all), by platform and id.
	List(ctx context.Context, p order.Platform) ([]Connection, error)
}
