package lazada

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/internal/pushwire"
	"github.com/orderlane/orderlane/order"
)

// Message types that Parse maps onto order kinds. Every other type becomes
// an order.KindNotice.
const (
	TypeTradeOrder   = 0  // trade order status, one push per order line: order.KindStatus
	TypeAuthExpiry   = 8  // authorisation expires within 48 hours (a notice)
	TypeReverseOrder = 10 // reverse order: order.KindCancellation or order.KindReturn
)

// envelope is the part common to every push.
type envelope struct {
	SellerID    pushwire.FlexID   `json:"seller_id"`
	MessageType pushwire.FlexInt  `json:"message_type"`
	Timestamp   pushwire.UnixTime `json:"timestamp"`
	Data        pushwire.RawJSON  `json:"data"`
}

// orderData is the data of trade order (0) and reverse order (10) pushes.
// A trade order push for a return also carries the reverse ids.
type orderData struct {
	TradeOrderID       pushwire.FlexID   `json:"trade_order_id"`
	TradeOrderLineID   pushwire.FlexID   `json:"trade_order_line_id"`
	ReverseOrderLineID pushwire.FlexID   `json:"reverse_order_line_id"`
	OrderStatus        string            `json:"order_status"`
	ReverseStatus      string            `json:"reverse_status"`
	StatusUpdateTime   pushwire.UnixTime `json:"status_update_time"`
	SellerID           pushwire.FlexID   `json:"seller_id"`
}

// decoded holds what Parse decodes, allocated once per push.
type decoded struct {
	env  envelope
	data orderData
}

// Parse decodes a Lazada push body into an order.Event received at
// receivedAt. Errors wrap marketplace.ErrMalformed.
//
// Trade order (0) and reverse order (10) pushes need seller_id and
// data.trade_order_id. A trade order push gives an order.KindStatus event
// with data.order_status mapped by MapStatus; a reverse order push gives
// order.KindCancellation when data.reverse_status starts with CANCEL, else
// order.KindReturn, with the reverse status in PlatformStatus only. Any other
// type is a notice whose ShopID is seller_id, or, when the top-level one is
// missing or "null" (as in the authorisation expiry push), a valid
// data.seller_id if the data has one.
// Lazada sends no message id: the idempotency key hashes the seller, type,
// order, order line and reverse order line ids (one push is sent per line),
// the raw status and the raw status update time; for notices the
// timestamp and the raw data bytes. Payload is a copy of body.
func Parse(body []byte, receivedAt time.Time) (order.Event, error) {
	st := new(decoded) // one allocation for everything json.Unmarshal fills
	env := &st.env
	if err := pushwire.DecodeBody(body, env); err != nil {
		return order.Event{}, err
	}
	switch {
	case env.MessageType.Bad:
		return order.Event{}, fmt.Errorf("%w: message_type is not an integer", marketplace.ErrMalformed)
	case !env.MessageType.Set:
		return order.Event{}, fmt.Errorf("%w: message_type missing", marketplace.ErrMalformed)
	case env.Timestamp.Bad:
		return order.Event{}, fmt.Errorf("%w: timestamp is not a Unix time", marketplace.ErrMalformed)
	}
	shopID, err := sellerID("seller_id", env.SellerID)
	if err != nil {
		return order.Event{}, err
	}
	mt := env.MessageType.Value
	ev := order.Event{
		Platform:   order.Lazada,
		ShopID:     shopID,
		Kind:       order.KindNotice,
		PushType:   strconv.FormatInt(mt, 10),
		ReceivedAt: receivedAt,
	}
	var kbuf [256]byte
	kb := pushwire.AppendField(kbuf[:0], ev.Platform)

	if mt != TypeTradeOrder && mt != TypeReverseOrder {
		if ev.ShopID == "" && env.Data.Present() {
			// Best effort: data of unknown types may be anything.
			var d struct {
				SellerID pushwire.FlexID `json:"seller_id"`
			}
			if json.Unmarshal(env.Data, &d) == nil {
				if s, err := sellerID("data.seller_id", d.SellerID); err == nil {
					ev.ShopID = s
				}
			}
		}
		kb = pushwire.AppendField(kb, ev.ShopID)
		kb = pushwire.AppendField(kb, ev.PushType)
		kb = pushwire.AppendIntField(kb, env.Timestamp.Value)
		kb = pushwire.AppendField(kb, env.Data)
		ev.Key = pushwire.HashKey(ev.Platform, kb)
		ev.Payload = bytes.Clone(body)
		return ev, nil
	}

	d := &st.data
	if err := pushwire.DecodeData(env.Data, d); err != nil {
		return order.Event{}, err
	}
	if ev.ShopID == "" {
		if ev.ShopID, err = sellerID("data.seller_id", d.SellerID); err != nil {
			return order.Event{}, err
		}
		if ev.ShopID == "" {
			return order.Event{}, fmt.Errorf("%w: seller_id missing", marketplace.ErrMalformed)
		}
	}
	if ev.OrderID, err = pushwire.ID("data.trade_order_id", d.TradeOrderID); err != nil {
		return order.Event{}, err
	}
	if ev.OrderID == "" {
		return order.Event{}, fmt.Errorf("%w: data.trade_order_id missing", marketplace.ErrMalformed)
	}
	line, err := pushwire.IDRaw("data.trade_order_line_id", d.TradeOrderLineID)
	if err != nil {
		return order.Event{}, err
	}
	reverseLine, err := pushwire.IDRaw("data.reverse_order_line_id", d.ReverseOrderLineID)
	if err != nil {
		return order.Event{}, err
	}
	if ev.UpdateTime, err = pushwire.TimeOf("data.status_update_time", d.StatusUpdateTime); err != nil {
		return order.Event{}, err
	}
	if mt == TypeTradeOrder {
		if err := pushwire.CheckText("data.order_status", d.OrderStatus, false); err != nil {
			return order.Event{}, err
		}
		ev.Kind = order.KindStatus
		ev.PlatformStatus = d.OrderStatus
		if d.OrderStatus != "" {
			ev.Status = MapStatus(d.OrderStatus)
		}
	} else {
		if err := pushwire.CheckText("data.reverse_status", d.ReverseStatus, false); err != nil {
			return order.Event{}, err
		}
		ev.Kind = order.KindReturn
		if hasPrefixFold(d.ReverseStatus, "CANCEL") {
			ev.Kind = order.KindCancellation
		}
		ev.PlatformStatus = d.ReverseStatus
	}
	kb = pushwire.AppendField(kb, ev.ShopID)
	kb = pushwire.AppendField(kb, ev.PushType)
	kb = pushwire.AppendField(kb, ev.OrderID)
	kb = pushwire.AppendField(kb, line)
	kb = pushwire.AppendField(kb, reverseLine)
	kb = pushwire.AppendField(kb, ev.PlatformStatus)
	kb = pushwire.AppendIntField(kb, d.StatusUpdateTime.Value)
	ev.Key = pushwire.HashKey(ev.Platform, kb)
	ev.Payload = bytes.Clone(body)
	return ev, nil
}

// sellerID validates a seller id; a missing one, or the string "null" that
// the authorisation expiry push sends, is "".
func sellerID(field string, f pushwire.FlexID) (string, error) {
	if string(f.Raw) == "null" {
		return "", nil
	}
	return pushwire.ID(field, f)
}
