package shopee

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/internal/pushwire"
	"github.com/orderlane/orderlane/order"
)

// Push codes that Parse maps onto order kinds. Every other code becomes an
// order.KindNotice.
const (
	CodeVerification     = 0  // console verification of the callback URL (a notice)
	CodeOrderStatus      = 3  // order status update: order.KindStatus
	CodeTrackingNo       = 4  // tracking number assigned: order.KindTracking
	CodeShippingDocument = 15 // shipping document READY or FAILED: order.KindDocument
	CodeReturn           = 29 // return update (community-documented): order.KindReturn
	CodePackage          = 30 // package fulfilment status (community-documented): order.KindPackage
)

// envelope is the part common to every push.
type envelope struct {
	MsgID     pushwire.FlexID   `json:"msg_id"`
	ShopID    pushwire.FlexID   `json:"shop_id"`
	Code      pushwire.FlexInt  `json:"code"`
	Timestamp pushwire.UnixTime `json:"timestamp"`
	Data      pushwire.RawJSON  `json:"data"`
}

// decoded holds what Parse decodes, allocated once per push.
type decoded struct {
	env  envelope
	data orderData
}

// orderData is the data of the order codes. Code 3 carries ordersn, status
// and update_time; code 4 ordersn, forder_id, package_number and
// tracking_no; 15 ordersn, package_number and status. Other fields are
// ignored.
type orderData struct {
	OrderSN    pushwire.FlexID   `json:"ordersn"`
	Status     string            `json:"status"`
	UpdateTime pushwire.UnixTime `json:"update_time"`
}

// kindOf maps a push code onto an event kind.
func kindOf(code int64) order.Kind {
	switch code {
	case CodeOrderStatus:
		return order.KindStatus
	case CodeTrackingNo:
		return order.KindTracking
	case CodeShippingDocument:
		return order.KindDocument
	case CodeReturn:
		return order.KindReturn
	case CodePackage:
		return order.KindPackage
	}
	return order.KindNotice
}

// Parse decodes a Shopee push body into an order.Event received at
// receivedAt. Errors wrap marketplace.ErrMalformed.
//
// Order codes (3, 4, 15, 29, 30) need a numeric shop_id and data.ordersn.
// Any other code is a notice: ShopID may be "" (partner-level pushes and the
// console verification carry none) and OrderID is "". Status is set only
// for code 3 (via MapStatus); the other codes keep a raw data.status, if
// any, in PlatformStatus alone. The idempotency key is "shopee:<msg_id>"
// when the push has a msg_id, else a hash of its identifying fields: for
// code 3 shop, code, order, status and update time, so that a resent push
// maps to the same key even if re-serialised; for the other codes the raw
// data bytes as well, since their distinguishing fields vary. Payload is a
// copy of body.
func Parse(body []byte, receivedAt time.Time) (order.Event, error) {
	st := new(decoded) // one allocation for everything json.Unmarshal fills
	env := &st.env
	if err := pushwire.DecodeBody(body, env); err != nil {
		return order.Event{}, err
	}
	switch {
	case env.Code.Bad:
		return order.Event{}, fmt.Errorf("%w: code is not an integer", marketplace.ErrMalformed)
	case !env.Code.Set:
		return order.Event{}, fmt.Errorf("%w: code missing", marketplace.ErrMalformed)
	}
	shopID, err := shopIDOf(env.ShopID)
	if err != nil {
		return order.Event{}, err
	}
	if env.MsgID.Bad {
		return order.Event{}, fmt.Errorf("%w: msg_id is neither a string nor an integer", marketplace.ErrMalformed)
	}
	if err := pushwire.CheckText("msg_id", env.MsgID.Raw, false); err != nil {
		return order.Event{}, err
	}
	if env.Timestamp.Bad {
		return order.Event{}, fmt.Errorf("%w: timestamp is not a Unix time", marketplace.ErrMalformed)
	}

	ev := order.Event{
		Platform:   order.Shopee,
		ShopID:     shopID,
		Kind:       kindOf(env.Code.Value),
		PushType:   strconv.FormatInt(env.Code.Value, 10),
		ReceivedAt: receivedAt,
	}
	var kbuf [256]byte
	kb := pushwire.AppendField(kbuf[:0], ev.Platform)
	kb = pushwire.AppendField(kb, ev.ShopID)
	kb = pushwire.AppendField(kb, ev.PushType)

	if ev.Kind == order.KindNotice {
		kb = pushwire.AppendIntField(kb, env.Timestamp.Value)
		kb = pushwire.AppendField(kb, env.Data)
	} else {
		if shopID == "" {
			return order.Event{}, fmt.Errorf("%w: shop_id missing", marketplace.ErrMalformed)
		}
		d := &st.data
		if err := pushwire.DecodeData(env.Data, d); err != nil {
			return order.Event{}, err
		}
		if ev.OrderID, err = pushwire.ID("data.ordersn", d.OrderSN); err != nil {
			return order.Event{}, err
		}
		if ev.OrderID == "" {
			return order.Event{}, fmt.Errorf("%w: data.ordersn missing", marketplace.ErrMalformed)
		}
		if err := pushwire.CheckText("data.status", d.Status, false); err != nil {
			return order.Event{}, err
		}
		if ev.UpdateTime, err = pushwire.TimeOf("data.update_time", d.UpdateTime); err != nil {
			return order.Event{}, err
		}
		ev.PlatformStatus = d.Status
		if env.Code.Value == CodeOrderStatus && d.Status != "" {
			ev.Status = MapStatus(d.Status)
		}
		kb = pushwire.AppendField(kb, ev.OrderID)
		kb = pushwire.AppendField(kb, d.Status)
		kb = pushwire.AppendIntField(kb, d.UpdateTime.Value)
		if env.Code.Value != CodeOrderStatus {
			kb = pushwire.AppendField(kb, env.Data)
		}
	}

	if len(env.MsgID.Raw) > 0 {
		ev.Key = "shopee:" + string(env.MsgID.Raw)
	} else {
		ev.Key = pushwire.HashKey(ev.Platform, kb)
	}
	ev.Payload = bytes.Clone(body)
	return ev, nil
}

// shopIDOf validates shop_id, a number or a numeric string, and returns it
// in canonical decimal form; a missing or zero shop_id is "".
func shopIDOf(f pushwire.FlexID) (string, error) {
	if f.Bad {
		return "", fmt.Errorf("%w: shop_id is neither a string nor an integer", marketplace.ErrMalformed)
	}
	raw := f.Raw
	if len(raw) == 0 {
		return "", nil
	}
	if !pushwire.IsDigits(raw) {
		return "", fmt.Errorf("%w: shop_id is not a decimal integer", marketplace.ErrMalformed)
	}
	raw = bytes.TrimLeft(raw, "0")
	if len(raw) > pushwire.MaxIDLen {
		return "", fmt.Errorf("%w: shop_id longer than %d bytes", marketplace.ErrMalformed, pushwire.MaxIDLen)
	}
	return string(raw), nil
}
