package shopeesim

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
)

// Pushes renders a change as the push Shopee sends for it, signed with
// the app's PushKey (the partner key when it has none) over CallbackURL:
//
//   - status and cancellation changes: code 3 {ordersn, status,
//     update_time} (Shopee reports cancellations as order statuses);
//   - tracking: code 4 {ordersn, forder_id, package_number, tracking_no}
//     for the last package with a tracking number (no update_time);
//   - shipping document: code 15 {ordersn, package_number, status "READY"};
//   - return: code 29 {ordersn, return_sn, status, update_time};
//   - package: code 30 {ordersn, package_number, fulfillment_status,
//     update_time}.
//
// Shopee has no push for address changes; other kinds render nothing.
func (s *Sim) Pushes(c sandbox.Change) ([]sandbox.Push, error) {
	if s.cfg.CallbackURL == "" {
		return nil, errors.New("shopeesim: Config.CallbackURL is required for pushes")
	}
	app, ok := s.sale.App(order.Shopee)
	if !ok {
		return nil, errors.New("shopeesim: no Shopee app in the sale")
	}
	key := app.PushKey
	if key == "" {
		key = app.Secret
	}
	o := &c.Order
	shopID, err := strconv.ParseInt(o.ShopID, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("shopeesim: shop id %q is not a number", o.ShopID)
	}
	var code int
	var data map[string]any
	switch c.Kind {
	case order.KindStatus, order.KindCancellation:
		code = shopee.CodeOrderStatus
		data = map[string]any{"completed_scenario": nil, "items": []any{}, "ordersn": o.OrderID,
			"status": o.Status, "update_time": o.UpdateTime.Unix()}
	case order.KindTracking:
		p, ok := lastTracked(o)
		if !ok {
			return nil, nil
		}
		code = shopee.CodeTrackingNo
		data = map[string]any{"ordersn": o.OrderID, "forder_id": p.ID, "package_number": p.ID, "tracking_no": p.TrackingNo}
	case order.KindDocument:
		if len(o.Packages) == 0 {
			return nil, nil
		}
		code = shopee.CodeShippingDocument
		data = map[string]any{"ordersn": o.OrderID, "package_number": o.Packages[len(o.Packages)-1].ID, "status": "READY"}
	case order.KindReturn:
		if c.Reverse == nil {
			return nil, errors.New("shopeesim: a return change needs its Reverse")
		}
		code = shopee.CodeReturn
		data = map[string]any{"ordersn": o.OrderID, "return_sn": c.Reverse.ID, "status": c.Reverse.Status,
			"update_time": o.UpdateTime.Unix()}
	case order.KindPackage:
		if len(o.Packages) == 0 {
			return nil, nil
		}
		p := o.Packages[len(o.Packages)-1]
		code = shopee.CodePackage
		data = map[string]any{"ordersn": o.OrderID, "package_number": p.ID, "fulfillment_status": p.Status,
			"update_time": o.UpdateTime.Unix()}
	default:
		return nil, nil
	}
	body, err := json.Marshal(struct {
		MsgID     string         `json:"msg_id"`
		Data      map[string]any `json:"data"`
		ShopID    int64          `json:"shop_id"`
		Code      int            `json:"code"`
		Timestamp int64          `json:"timestamp"`
	}{requestID(), data, shopID, code, s.sale.Now().Unix()})
	if err != nil {
		return nil, fmt.Errorf("shopeesim: %w", err)
	}
	return []sandbox.Push{{
		Platform: order.Shopee, Header: "Authorization",
		Signature: shopee.SignPush(s.cfg.CallbackURL, []byte(key), body),
		Body:      body, Kind: kindOf(code), OrderID: o.OrderID,
	}}, nil
}

// kindOf is the kind Parse gives a push code.
func kindOf(code int) order.Kind {
	switch code {
	case shopee.CodeOrderStatus:
		return order.KindStatus
	case shopee.CodeTrackingNo:
		return order.KindTracking
	case shopee.CodeShippingDocument:
		return order.KindDocument
	case shopee.CodeReturn:
		return order.KindReturn
	case shopee.CodePackage:
		return order.KindPackage
	}
	return order.KindNotice
}

func lastTracked(o *sandbox.Order) (order.Package, bool) {
	for i := len(o.Packages) - 1; i >= 0; i-- {
		if o.Packages[i].TrackingNo != "" {
			return o.Packages[i], true
		}
	}
	return order.Package{}, false
}
