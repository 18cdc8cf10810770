package tiktoksim

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
)

// notificationBase starts the tts_notification_ids, which look like
// TikTok's 19-digit ids.
const notificationBase = 7300000000000000000

// notificationSpread bounds each fake's random start above
// notificationBase, keeping the ids 19 digits long.
const notificationSpread = 100000000000000000

// statusData is the data of a type 1 webhook, its fields in the documented
// order.
type statusData struct {
	OrderID       string `json:"order_id"`
	OrderStatus   string `json:"order_status"`
	IsOnHoldOrder bool   `json:"is_on_hold_order"`
	UpdateTime    int64  `json:"update_time"`
}

// Pushes renders a change as TikTok's webhooks, signed as TikTok signs them
// (Authorization: HMAC-SHA256(app secret, app key + body)): a status
// change is type 1 (ORDER_STATUS_CHANGE, webhook vocabulary: CANCEL), an
// address change type 3, a package change type 4 (one package_list entry
// per package), a cancellation type 11 and a return type 12. TikTok has no
// webhook for a tracking number or a shipping document alone, so those
// render no push; nor does a notice.
func (s *Sim) Pushes(c sandbox.Change) ([]sandbox.Push, error) {
	o := &c.Order
	if o.OrderID == "" || o.ShopID == "" {
		return nil, fmt.Errorf("tiktoksim: change without order or shop id")
	}
	now := s.sale.Now().Unix()
	update := o.UpdateTime.Unix()
	var typ int
	var data any
	switch c.Kind {
	case order.KindStatus:
		st := WebhookStatus(o.Status)
		typ, data = tiktok.TypeOrderStatus, statusData{o.OrderID, st, st == "ON_HOLD", update}
	case order.KindAddress:
		typ, data = tiktok.TypeAddressUpdate, map[string]any{"order_id": o.OrderID, "update_time": update}
	case order.KindPackage:
		if len(o.Packages) == 0 {
			return nil, nil
		}
		list := make([]map[string]any, 0, len(o.Packages))
		for _, p := range o.Packages {
			list = append(list, map[string]any{"package_id": p.ID, "order_id_list": []string{o.OrderID}})
		}
		sc := "SPLIT"
		if len(o.Packages) == 1 {
			sc = "COMBINE"
		}
		typ, data = tiktok.TypePackageUpdate, map[string]any{
			"sc_type": sc, "role_type": "SELLER", "package_list": list, "update_time": update,
		}
	case order.KindCancellation, order.KindReturn:
		r := c.Reverse
		if r == nil {
			return nil, fmt.Errorf("tiktoksim: %s change of order %s without its reverse", c.Kind, o.OrderID)
		}
		if c.Kind == order.KindCancellation {
			typ, data = tiktok.TypeCancellation, map[string]any{
				"order_id": o.OrderID, "cancellations_role": "BUYER", "cancel_status": r.Status,
				"cancel_id": r.ID, "create_time": update,
			}
		} else {
			typ, data = tiktok.TypeReturnStatus, map[string]any{
				"order_id": o.OrderID, "return_role": "BUYER", "return_type": "RETURN_AND_REFUND",
				"return_status": r.Status, "return_id": r.ID, "create_time": update, "update_time": update,
			}
		}
	default:
		return nil, nil
	}
	app, ok := s.sale.App(order.TikTok)
	if !ok {
		return nil, errNoApp
	}
	id := strconv.FormatUint(notificationBase+s.seq.Add(1), 10)
	body, err := json.Marshal(struct {
		Type           int    `json:"type"`
		NotificationID string `json:"tts_notification_id"`
		ShopID         string `json:"shop_id"`
		Timestamp      int64  `json:"timestamp"`
		Data           any    `json:"data"`
	}{typ, id, o.ShopID, now, data})
	if err != nil {
		return nil, fmt.Errorf("tiktoksim: push: %w", err)
	}
	return []sandbox.Push{{
		Platform: order.TikTok, Header: "Authorization",
		Signature: tiktok.SignPush(app.Key, []byte(app.Secret), body),
		Body:      body, Kind: c.Kind, OrderID: o.OrderID,
	}}, nil
}
