package subscriber

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/shop"
)

// The shops subscription: authorisation pushes change shops' connection
// state.
const (
	ShopsName   = "shops"
	ShopsFilter = "*.notice" // notices of every platform
)

// ShopUpdater is what the shops handler needs of the shop store.
type ShopUpdater interface {
	Update(ctx context.Context, p order.Platform, shopID string, fn func(*shop.Connection) error) (shop.Connection, error)
}

// AuthChange is what an authorisation push means for a shop.
type AuthChange int

// Authorisation push meanings.
const (
	// AuthNone: not an authorisation push, or one that changes nothing
	// (Shopee code 1: a shop authorised the app; the connect callback
	// stores it).
	AuthNone AuthChange = iota
	// AuthRevoked: the seller cancelled the authorisation (Shopee code 2,
	// TikTok type 6): the shop becomes shop.Revoked.
	AuthRevoked
	// AuthExpiring: the authorisation ends soon (Shopee code 12, 7 days
	// ahead; Lazada message type 8, 48 hours ahead; TikTok type 7): the
	// shop stays Connected and LastError tells the operator to have the
	// seller authorise again.
	AuthExpiring
)

// ClassifyAuthPush says what the notice e means for its shops, and which
// shops: the event's ShopID and, for Shopee, any data.shop_id and
// data.shop_id_list (a main account cancels several shops in one push).
func ClassifyAuthPush(e *order.Event) (AuthChange, []string) {
	var change AuthChange
	switch {
	case e.Platform == order.Shopee && e.PushType == "2",
		e.Platform == order.TikTok && e.PushType == "6":
		change = AuthRevoked
	case e.Platform == order.Shopee && e.PushType == "12",
		e.Platform == order.Lazada && e.PushType == "8",
		e.Platform == order.TikTok && e.PushType == "7":
		change = AuthExpiring
	default:
		return AuthNone, nil
	}
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		if id != "" && len(id) <= shop.MaxIDLen && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	add(e.ShopID)
	if e.Platform == order.Shopee {
		for _, id := range shopeeShopIDs(e.Payload) {
			add(id)
		}
	}
	return change, ids
}

// maxShopsPerPush bounds the shops one push may name.
const maxShopsPerPush = 1000

// shopeeShopIDs reads data.shop_id and data.shop_id_list of a Shopee
// authorisation push, tolerating numbers and strings; anything else is
// ignored.
func shopeeShopIDs(payload []byte) []string {
	var body struct {
		Data struct {
			ShopID     json.RawMessage   `json:"shop_id"`
			ShopIDList []json.RawMessage `json:"shop_id_list"`
		} `json:"data"`
	}
	if json.Unmarshal(payload, &body) != nil {
		return nil
	}
	var out []string
	for i, raw := range append([]json.RawMessage{body.Data.ShopID}, body.Data.ShopIDList...) {
		if i > maxShopsPerPush {
			break
		}
		if id, ok := decimalID(raw); ok {
			out = append(out, id)
		}
	}
	return out
}

func decimalID(raw json.RawMessage) (string, bool) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		if v, err := strconv.ParseUint(n.String(), 10, 64); err == nil {
			return strconv.FormatUint(v, 10), true
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if v, err := strconv.ParseUint(s, 10, 64); err == nil {
			return strconv.FormatUint(v, 10), true
		}
	}
	return "", false
}

// Shops applies authorisation pushes to the shop store: a deauthorisation
// marks the shop Revoked, an expiry notice records a warning in
// LastError. Notices of shops never connected, and every other notice,
// are acknowledged and ignored.
type Shops struct {
	store ShopUpdater
	log   *slog.Logger
}

// NewShops returns the shops handler.
func NewShops(store ShopUpdater, log *slog.Logger) *Shops {
	return &Shops{store: store, log: log}
}

// Handle implements bus.Handler.
func (h *Shops) Handle(ctx context.Context, d *bus.Delivery) error {
	e, err := order.DecodeEvent(d.Data, d.Seq)
	if err != nil {
		return bus.Permanent(fmt.Errorf("shops: decode event seq %d: %w", d.Seq, err))
	}
	if !e.Platform.Valid() {
		return bus.Permanent(fmt.Errorf("shops: event seq %d: platform %q", d.Seq, e.Platform))
	}
	change, ids := ClassifyAuthPush(&e)
	for _, id := range ids {
		_, err := h.store.Update(ctx, e.Platform, id, func(c *shop.Connection) error {
			switch change {
			case AuthRevoked:
				c.State = shop.Revoked
				c.LastError = "authorisation cancelled (" + string(e.Platform) + " push " + e.PushType + ")"
			case AuthExpiring:
				if c.State == shop.Connected {
					c.LastError = "authorisation expires soon (" + string(e.Platform) + " push " + e.PushType + "): have the seller authorise again"
				}
			}
			return nil
		})
		switch {
		case errors.Is(err, shop.ErrNotFound):
			continue
		case errors.Is(err, shop.ErrBadSeal), errors.Is(err, shop.ErrInvalid):
			return bus.Permanent(fmt.Errorf("shops: event seq %d: %s/%s: %w", d.Seq, e.Platform, id, err))
		case err != nil:
			return Classify(fmt.Errorf("shops: event seq %d: %s/%s: %w", d.Seq, e.Platform, id, err))
		}
		if change == AuthRevoked {
			h.log.Warn("shop authorisation cancelled", "platform", e.Platform, "shop_id", id, "push_type", e.PushType)
		} else {
			h.log.Warn("shop authorisation expires soon", "platform", e.Platform, "shop_id", id, "push_type", e.PushType)
		}
	}
	return nil
}
