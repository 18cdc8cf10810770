package tiktok

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/internal/pushwire"
	"github.com/orderlane/orderlane/order"
)

// Webhook types that Parse maps onto order kinds. Every other type becomes
// an order.KindNotice.
const (
	TypeOrderStatus     = 1  // order status change: order.KindStatus
	TypeAddressUpdate   = 3  // recipient address update: order.KindAddress
	TypePackageUpdate   = 4  // package combined or split: order.KindPackage
	TypeDeauthorization = 6  // seller deauthorisation (a notice)
	TypeAuthExpiry      = 7  // upcoming authorisation expiration (a notice)
	TypeCancellation    = 11 // cancellation status change: order.KindCancellation
	TypeReturnStatus    = 12 // return status change: order.KindReturn
)

// envelope is the part common to every webhook.
type envelope struct {
	Type           pushwire.FlexInt  `json:"type"`
	NotificationID pushwire.FlexID   `json:"tts_notification_id"`
	ShopID         pushwire.FlexID   `json:"shop_id"`
	Timestamp      pushwire.UnixTime `json:"timestamp"`
	Data           pushwire.RawJSON  `json:"data"`
}

// orderData is the data of the order types: 1 carries order_id,
// order_status and update_time; 3 order_id and update_time; 11 order_id,
// cancel_id and cancel_status; 12 order_id, return_id, return_status and
// update_time; 4 package_list with the orders of each package.
type orderData struct {
	OrderID      pushwire.FlexID   `json:"order_id"`
	OrderStatus  string            `json:"order_status"`
	CancelID     pushwire.FlexID   `json:"cancel_id"`
	CancelStatus string            `json:"cancel_status"`
	ReturnID     pushwire.FlexID   `json:"return_id"`
	ReturnStatus string            `json:"return_status"`
	UpdateTime   pushwire.UnixTime `json:"update_time"`
	PackageList  []pkgOrders       `json:"package_list"`
}

type pkgOrders struct {
	OrderIDList []pushwire.FlexID `json:"order_id_list"`
}

// decoded holds what Parse decodes, allocated once per push.
type decoded struct {
	env  envelope
	data orderData
}

// kindOf maps a webhook type onto an event kind.
func kindOf(typ int64) order.Kind {
	switch typ {
	case TypeOrderStatus:
		return order.KindStatus
	case TypeAddressUpdate:
		return order.KindAddress
	case TypePackageUpdate:
		return order.KindPackage
	case TypeCancellation:
		return order.KindCancellation
	case TypeReturnStatus:
		return order.KindReturn
	}
	return order.KindNotice
}

// Parse decodes a TikTok Shop webhook body into an order.Event received at
// receivedAt. Errors wrap marketplace.ErrMalformed.
//
// Order types (1, 3, 4, 11, 12) need shop_id and data.order_id. Type 1 sets
// Status from data.order_status via MapStatus; 11 and 12 keep cancel_status
// and return_status in PlatformStatus alone. A package update (4) names its
// orders in data.package_list rather than data.order_id: it becomes an
// order.KindPackage event when it concerns a single order, and a notice
// when it combines or splits packages across several. Any other type is a
// notice, with ShopID possibly "". The idempotency key is
// "tiktok:<tts_notification_id>" when the webhook has one, else a hash of
// shop, type, order, cancel or return id, raw status and update time (for
// types 3 and 4 the raw data bytes; for notices the timestamp and the raw
// data bytes). Payload is a copy of body.
func Parse(body []byte, receivedAt time.Time) (order.Event, error) {
	st := new(decoded) // one allocation for everything json.Unmarshal fills
	env := &st.env
	if err := pushwire.DecodeBody(body, env); err != nil {
		return order.Event{}, err
	}
	switch {
	case env.Type.Bad:
		return order.Event{}, fmt.Errorf("%w: type is not an integer", marketplace.ErrMalformed)
	case !env.Type.Set:
		return order.Event{}, fmt.Errorf("%w: type missing", marketplace.ErrMalformed)
	case env.Timestamp.Bad:
		return order.Event{}, fmt.Errorf("%w: timestamp is not a Unix time", marketplace.ErrMalformed)
	case env.NotificationID.Bad:
		return order.Event{}, fmt.Errorf("%w: tts_notification_id is neither a string nor an integer", marketplace.ErrMalformed)
	}
	if err := pushwire.CheckText("tts_notification_id", env.NotificationID.Raw, false); err != nil {
		return order.Event{}, err
	}
	shopID, err := pushwire.ID("shop_id", env.ShopID)
	if err != nil {
		return order.Event{}, err
	}
	ev := order.Event{
		Platform:   order.TikTok,
		ShopID:     shopID,
		Kind:       kindOf(env.Type.Value),
		PushType:   strconv.FormatInt(env.Type.Value, 10),
		ReceivedAt: receivedAt,
	}
	var kbuf [256]byte
	kb := pushwire.AppendField(kbuf[:0], ev.Platform)
	kb = pushwire.AppendField(kb, ev.ShopID)
	kb = pushwire.AppendField(kb, ev.PushType)

	if ev.Kind.IsOrder() {
		if ev.ShopID == "" {
			return order.Event{}, fmt.Errorf("%w: shop_id missing", marketplace.ErrMalformed)
		}
		d := &st.data
		if err := pushwire.DecodeData(env.Data, d); err != nil {
			return order.Event{}, err
		}
		if kb, err = parseOrder(&ev, d, env.Data, kb); err != nil {
			return order.Event{}, err
		}
	}
	if !ev.Kind.IsOrder() { // a notice, or a package update across orders
		kb = pushwire.AppendIntField(kb, env.Timestamp.Value)
		kb = pushwire.AppendField(kb, env.Data)
	}

	if len(env.NotificationID.Raw) > 0 {
		ev.Key = "tiktok:" + string(env.NotificationID.Raw)
	} else {
		ev.Key = pushwire.HashKey(ev.Platform, kb)
	}
	ev.Payload = bytes.Clone(body)
	return ev, nil
}

// parseOrder fills the order fields of ev from the data of an order type
// and appends the key fields to kb. A package update that does not concern
// exactly one order turns ev into a notice.
func parseOrder(ev *order.Event, d *orderData, data []byte, kb []byte) ([]byte, error) {
	orderID, err := pushwire.IDRaw("data.order_id", d.OrderID)
	if err != nil {
		return kb, err
	}
	if ev.Kind == order.KindPackage && len(orderID) == 0 {
		if orderID, err = singleOrder(d.PackageList); err != nil {
			return kb, err
		}
		if len(orderID) == 0 {
			ev.Kind = order.KindNotice
			return kb, nil
		}
	}
	if len(orderID) == 0 {
		return kb, fmt.Errorf("%w: data.order_id missing", marketplace.ErrMalformed)
	}
	if ev.UpdateTime, err = pushwire.TimeOf("data.update_time", d.UpdateTime); err != nil {
		return kb, err
	}
	var sub []byte // the cancellation or return id
	switch ev.Kind {
	case order.KindStatus:
		ev.PlatformStatus = d.OrderStatus
		err = pushwire.CheckText("data.order_status", d.OrderStatus, false)
	case order.KindCancellation:
		ev.PlatformStatus = d.CancelStatus
		if err = pushwire.CheckText("data.cancel_status", d.CancelStatus, false); err == nil {
			sub, err = pushwire.IDRaw("data.cancel_id", d.CancelID)
		}
	case order.KindReturn:
		ev.PlatformStatus = d.ReturnStatus
		if err = pushwire.CheckText("data.return_status", d.ReturnStatus, false); err == nil {
			sub, err = pushwire.IDRaw("data.return_id", d.ReturnID)
		}
	}
	if err != nil {
		return kb, err
	}
	if ev.Kind == order.KindStatus && ev.PlatformStatus != "" {
		ev.Status = MapStatus(ev.PlatformStatus)
	}
	ev.OrderID = string(orderID)
	kb = pushwire.AppendField(kb, orderID)
	kb = pushwire.AppendField(kb, sub)
	kb = pushwire.AppendField(kb, ev.PlatformStatus)
	kb = pushwire.AppendIntField(kb, d.UpdateTime.Value)
	if ev.Kind == order.KindAddress || ev.Kind == order.KindPackage {
		kb = pushwire.AppendField(kb, data)
	}
	return kb, nil
}

// singleOrder returns the one order id that every package of a package
// update names, or nil when they name none or several.
func singleOrder(pkgs []pkgOrders) ([]byte, error) {
	var only []byte
	for _, p := range pkgs {
		for _, o := range p.OrderIDList {
			raw, err := pushwire.IDRaw("data.package_list.order_id_list", o)
			if err != nil {
				return nil, err
			}
			switch {
			case len(raw) == 0:
			case only == nil:
				only = raw
			case !bytes.Equal(only, raw):
				return nil, nil
			}
		}
	}
	return only, nil
}
