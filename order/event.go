package order

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Platform names a marketplace. The values are the path segments of the
// webhook routes and the first part of every message group.
type Platform string

// The marketplaces orderlane speaks.
const (
	Shopee Platform = "shopee"
	Lazada Platform = "lazada"
	TikTok Platform = "tiktok"
)

// Platforms lists every supported marketplace in a stable order.
var Platforms = []Platform{Shopee, Lazada, TikTok}

// Valid reports whether p is a supported marketplace.
func (p Platform) Valid() bool {
	switch p {
	case Shopee, Lazada, TikTok:
		return true
	}
	return false
}

// Kind says what an event is about. Order kinds carry an order id and are
// routed to order processing; KindNotice is recorded (audit) but never
// applied to an order.
type Kind string

// Event kinds produced by the marketplace parsers.
const (
	KindStatus       Kind = "order_status"      // the order's status changed
	KindTracking     Kind = "tracking"          // tracking number assigned
	KindDocument     Kind = "shipping_document" // shipping document ready
	KindPackage      Kind = "package"           // package / fulfilment update
	KindAddress      Kind = "address"           // shipping address changed
	KindCancellation Kind = "cancellation"      // cancellation requested or decided
	KindReturn       Kind = "return"            // return or refund update
	KindNotice       Kind = "notice"            // not about one order: verification, authorisation, unknown push types
)

// IsOrder reports whether events of this kind belong to one order.
func (k Kind) IsOrder() bool { return k != KindNotice && k != "" }

// Event is one accepted marketplace push, normalised. It is what the gateway
// appends to the topic and what every subscription receives.
type Event struct {
	// Platform is the marketplace that sent the push.
	Platform Platform `json:"platform"`
	// ShopID is the marketplace's shop (seller) id, as a decimal string.
	ShopID string `json:"shop_id"`
	// OrderID is the marketplace's order id; empty for notices.
	OrderID string `json:"order_id,omitempty"`
	// Kind says what the event is about.
	Kind Kind `json:"kind"`
	// PushType is the marketplace's own push code ("3" for Shopee order
	// status, "0" for a Lazada trade order, ...).
	PushType string `json:"push_type"`
	// PlatformStatus is the raw status the push carried, if any.
	PlatformStatus string `json:"platform_status,omitempty"`
	// Status is PlatformStatus mapped to the unified model: empty when the
	// event carries no order status, StatusUnknown when the raw status has
	// no mapping.
	Status Status `json:"status,omitempty"`
	// UpdateTime is the marketplace's own time of the change; zero when the
	// push carries none (such events never move an order's status).
	UpdateTime time.Time `json:"update_time,omitempty"`
	// Key is the idempotency key: the marketplace's message id when it sends
	// one, else a hash of the push's identifying fields.
	Key string `json:"key"`
	// ReceivedAt is when the gateway accepted the push.
	ReceivedAt time.Time `json:"received_at"`
	// Payload is the raw push body, byte for byte as signed.
	Payload json.RawMessage `json:"payload"`

	// Seq is the topic's sequence number of the event, set on delivery.
	Seq uint64 `json:"-"`
}

// Group is the event's message group, "platform:shop_id:order_id". Events of
// one group are processed strictly in the order they were appended. Notices
// group by shop: "platform:shop_id:".
func (e *Event) Group() string {
	var b strings.Builder
	b.Grow(len(e.Platform) + len(e.ShopID) + len(e.OrderID) + 2)
	b.WriteString(string(e.Platform))
	b.WriteByte(':')
	b.WriteString(e.ShopID)
	b.WriteByte(':')
	b.WriteString(e.OrderID)
	return b.String()
}

// ErrInvalidEvent is wrapped by the errors of Event.Validate.
var ErrInvalidEvent = errors.New("invalid event")

// MaxFutureSkew is how far ahead of its receipt an event's UpdateTime may
// be. An event claiming a later time would pin its order's status: every
// genuine event after it would look older and be kept as stale.
const MaxFutureSkew = 24 * time.Hour

// Validate reports, wrapping ErrInvalidEvent, why e cannot be applied to
// an order: a marketplace, shop, order id (for order kinds) or key
// missing, a status outside the unified model, or an update time more
// than MaxFutureSkew after the event was received. Applying it later will
// not help: it is a permanent failure.
func (e *Event) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidEvent, fmt.Sprintf(format, args...))
	}
	switch {
	case !e.Platform.Valid():
		return bad("platform %q", e.Platform)
	case e.ShopID == "":
		return bad("no shop id")
	case e.Kind == "":
		return bad("no kind")
	case e.Kind.IsOrder() && e.OrderID == "":
		return bad("%s event without an order id", e.Kind)
	case e.Key == "":
		return bad("no idempotency key")
	case e.Status != "" && !e.Status.Valid():
		return bad("status %q is not a unified status", e.Status)
	case !e.UpdateTime.IsZero() && !e.ReceivedAt.IsZero() && e.UpdateTime.Sub(e.ReceivedAt) > MaxFutureSkew:
		return bad("update time %s is more than %s after its receipt at %s",
			e.UpdateTime.UTC().Format(time.RFC3339), MaxFutureSkew, e.ReceivedAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// Encode is the event's wire form on the topic (JSON).
func (e *Event) Encode() ([]byte, error) { return json.Marshal(e) }

// DecodeEvent reads an event from its wire form and sets its topic
// sequence.
func DecodeEvent(data []byte, seq uint64) (Event, error) {
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return e, err
	}
	e.Seq = seq
	return e, nil
}
