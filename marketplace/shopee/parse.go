package shopee

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/orderlane/orderlane/marketplace"
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
	MsgID     flexID   `json:"msg_id"`
	ShopID    flexID   `json:"shop_id"`
	Code      flexInt  `json:"code"`
	Timestamp unixTime `json:"timestamp"`
	Data      rawJSON  `json:"data"`
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
	OrderSN    flexID   `json:"ordersn"`
	Status     string   `json:"status"`
	UpdateTime unixTime `json:"update_time"`
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
	if !isObject(body) {
		return order.Event{}, fmt.Errorf("%w: not a JSON object", marketplace.ErrMalformed)
	}
	st := new(decoded) // one allocation for everything json.Unmarshal fills
	env := &st.env
	if err := json.Unmarshal(body, env); err != nil {
		return order.Event{}, decodeError("", err)
	}
	switch {
	case env.Code.bad:
		return order.Event{}, fmt.Errorf("%w: code is not an integer", marketplace.ErrMalformed)
	case !env.Code.set:
		return order.Event{}, fmt.Errorf("%w: code missing", marketplace.ErrMalformed)
	}
	shopID, err := shopIDOf(env.ShopID)
	if err != nil {
		return order.Event{}, err
	}
	if env.MsgID.bad {
		return order.Event{}, fmt.Errorf("%w: msg_id is neither a string nor an integer", marketplace.ErrMalformed)
	}
	if err := checkText("msg_id", env.MsgID.raw, false); err != nil {
		return order.Event{}, err
	}
	if env.Timestamp.bad {
		return order.Event{}, fmt.Errorf("%w: timestamp is not a Unix time", marketplace.ErrMalformed)
	}

	ev := order.Event{
		Platform:   order.Shopee,
		ShopID:     shopID,
		Kind:       kindOf(env.Code.v),
		PushType:   strconv.FormatInt(env.Code.v, 10),
		ReceivedAt: receivedAt,
	}
	var kbuf [256]byte
	kb := appendField(kbuf[:0], ev.Platform)
	kb = appendField(kb, ev.ShopID)
	kb = appendField(kb, ev.PushType)

	if ev.Kind == order.KindNotice {
		kb = appendIntField(kb, env.Timestamp.v)
		kb = appendField(kb, env.Data)
	} else {
		if shopID == "" {
			return order.Event{}, fmt.Errorf("%w: shop_id missing", marketplace.ErrMalformed)
		}
		if !env.Data.present() {
			return order.Event{}, fmt.Errorf("%w: data missing", marketplace.ErrMalformed)
		}
		d := &st.data
		if err := json.Unmarshal(env.Data, d); err != nil {
			return order.Event{}, decodeError("data.", err)
		}
		if ev.OrderID, err = id("data.ordersn", d.OrderSN); err != nil {
			return order.Event{}, err
		}
		if ev.OrderID == "" {
			return order.Event{}, fmt.Errorf("%w: data.ordersn missing", marketplace.ErrMalformed)
		}
		if err := checkText("data.status", d.Status, false); err != nil {
			return order.Event{}, err
		}
		if ev.UpdateTime, err = timeOf("data.update_time", d.UpdateTime); err != nil {
			return order.Event{}, err
		}
		ev.PlatformStatus = d.Status
		if env.Code.v == CodeOrderStatus && d.Status != "" {
			ev.Status = MapStatus(d.Status)
		}
		kb = appendField(kb, ev.OrderID)
		kb = appendField(kb, d.Status)
		kb = appendIntField(kb, d.UpdateTime.v)
		if env.Code.v != CodeOrderStatus {
			kb = appendField(kb, env.Data)
		}
	}

	if len(env.MsgID.raw) > 0 {
		ev.Key = "shopee:" + string(env.MsgID.raw)
	} else {
		ev.Key = hashKey(ev.Platform, kb)
	}
	ev.Payload = bytes.Clone(body)
	return ev, nil
}

// shopIDOf validates shop_id, a number or a numeric string, and returns it
// in canonical decimal form; a missing or zero shop_id is "".
func shopIDOf(f flexID) (string, error) {
	if f.bad {
		return "", fmt.Errorf("%w: shop_id is neither a string nor an integer", marketplace.ErrMalformed)
	}
	raw := f.raw
	if len(raw) == 0 {
		return "", nil
	}
	if !isDigits(raw) {
		return "", fmt.Errorf("%w: shop_id is not a decimal integer", marketplace.ErrMalformed)
	}
	raw = bytes.TrimLeft(raw, "0")
	if len(raw) > maxIDLen {
		return "", fmt.Errorf("%w: shop_id longer than %d bytes", marketplace.ErrMalformed, maxIDLen)
	}
	return string(raw), nil
}
