package marketplace

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orderlane/orderlane/order"
)

// Token is a shop's API authorisation, as the marketplace's OAuth-style
// flow issues it (an authorisation code exchanged for an access and a
// refresh token) and refreshes it.
type Token struct {
	AccessToken      string    `json:"access_token"`
	RefreshToken     string    `json:"refresh_token"`
	AccessExpiresAt  time.Time `json:"access_expires_at"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at,omitzero"`
}

// String never shows the tokens themselves.
func (t Token) String() string {
	return fmt.Sprintf("token(expires %s)", t.AccessExpiresAt.UTC().Format(time.RFC3339))
}

// Shop is one connected shop as an API client needs it.
type Shop struct {
	Platform order.Platform
	// ShopID is the shop's id as pushes carry it (Shopee shop_id, Lazada
	// seller_id, TikTok shop_id).
	ShopID string
	// Cipher is TikTok's shop_cipher, which the API wants instead of the
	// push's shop_id; unused by the others.
	Cipher string
	// Region selects the regional API host where a marketplace has several
	// (Lazada: "sg", "my", "th", "id", "ph", "vn"). Empty means the
	// client's default.
	Region string
	Token  Token
}

// OrderRef is one order a listing found: enough to decide whether to
// fetch it.
type OrderRef struct {
	OrderID    string
	Status     string
	UpdateTime time.Time
}

// ListPage is one page of orders updated in a time window.
type ListPage struct {
	Orders []OrderRef
	// Cursor continues the listing; empty on the last page.
	Cursor string
}

// Client is one marketplace's Open API, as orderlane uses it. Every
// method signs its request as the marketplace requires, respects the
// client-side rate limit, retries 429 and 5xx with backoff (within ctx),
// and returns *APIError for an error the marketplace reported.
type Client interface {
	Platform() order.Platform
	// ExchangeCode trades an authorisation code from the marketplace's
	// callback for the shop's tokens. shop carries what the callback
	// named (ShopID, Region); the result adds what the marketplace knows
	// (TikTok's Cipher) and the token.
	ExchangeCode(ctx context.Context, code string, shop Shop) (Shop, error)
	// Refresh renews shop's access token with its refresh token.
	Refresh(ctx context.Context, shop Shop) (Token, error)
	// Orders fetches full orders by id (the client splits ids into the
	// marketplace's batch size). An id the marketplace does not know (yet)
	// is absent from the result, not an error.
	Orders(ctx context.Context, shop Shop, ids []string) (map[string]order.Detail, error)
	// Updated lists the orders updated in [from, to), one page at a time.
	Updated(ctx context.Context, shop Shop, from, to time.Time, cursor string) (ListPage, error)
}

// Errors API clients wrap. Match them with errors.Is.
var (
	// ErrAuth: the token is invalid or expired, or the app is not
	// authorised for the shop. Refresh or reconnect; retrying as is fails.
	ErrAuth = errors.New("marketplace API: not authorised")
	// ErrRateLimited: the marketplace answered 429 (after the client's own
	// retries).
	ErrRateLimited = errors.New("marketplace API: rate limited")
	// ErrTemporary: a 5xx, a timeout or a connection failure (after the
	// client's own retries). Retry later.
	ErrTemporary = errors.New("marketplace API: temporarily failing")
)

// APIError is an error the marketplace reported in its own envelope.
type APIError struct {
	Platform order.Platform
	// Status is the HTTP status (Shopee reports many errors with 200).
	Status int
	// Code and Message are the marketplace's error code and text.
	Code    string
	Message string
	// RequestID is the marketplace's request id, for its support.
	RequestID string
	// Kind is ErrAuth, ErrRateLimited, ErrTemporary or nil (a request the
	// marketplace refuses as it is).
	Kind error
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s API: HTTP %d: %s", e.Platform, e.Status, e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// Unwrap lets errors.Is match e against its Kind.
func (e *APIError) Unwrap() error { return e.Kind }
