package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
)

// Test secrets: the server gets them through its environment, pushgen signs
// with them.
const (
	apiToken      = "e2e-api-token"
	shopeePushKey = "e2e-shopee-push-key"
	lazadaAppKey  = "100200"
	lazadaSecret  = "e2e-lazada-app-secret"
	tiktokAppKey  = "e2etiktok"
	tiktokSecret  = "e2e-tiktok-app-secret"
)

// lifecycles are the raw statuses each marketplace pushes for one order, in
// order. Every step maps onto a different unified status, so an order's
// status tells which of its pushes was applied last.
var lifecycles = map[order.Platform][]string{
	order.Shopee: {"UNPAID", "READY_TO_SHIP", "SHIPPED", "COMPLETED"},
	order.Lazada: {"unpaid", "packed", "shipped", "delivered"},
	order.TikTok: {"UNPAID", "AWAITING_SHIPMENT", "IN_TRANSIT", "COMPLETED"},
}

// push is one signed marketplace push, ready to send.
type push struct {
	path string // "/webhooks/shopee", ...
	body []byte
	sig  string // the Authorization header
	// ev is what the marketplace package's Parse makes of body, as the
	// gateway will: its Key, Status, PlatformStatus and UpdateTime are what
	// the server must record.
	ev order.Event
}

// orderPlan is one order and the pushes of its lifecycle, in send order
// (strictly increasing update times).
type orderPlan struct {
	key    order.Key
	pushes []*push

	// Written only by the sender that owns the order, read after the
	// senders have stopped. A sender sends an order's pushes in order and
	// stops at the first one not answered 200, so pushes[:acked] were
	// acknowledged and pushes[acked:sent] (at most one) were sent without
	// an acknowledgement.
	sent, acked int
}

// again returns a plan with the same pushes and no send record, to send
// them a second time.
func (o *orderPlan) again() *orderPlan { return &orderPlan{key: o.key, pushes: o.pushes} }

// pushgen makes orders of correctly signed pushes for the three
// marketplaces.
type pushgen struct {
	t           testing.TB
	callbackURL string // Shopee signs the registered push URL
	n           int    // orders made
	start       int64  // Unix time of the first order's first update
}

func newPushgen(t testing.TB, callbackURL string) *pushgen {
	return &pushgen{t: t, callbackURL: callbackURL, start: time.Now().Add(-48 * time.Hour).Unix()}
}

// orders returns n orders spread round-robin over the marketplaces and over
// three shops per marketplace.
func (g *pushgen) orders(n int) []*orderPlan {
	out := make([]*orderPlan, n)
	for i := range out {
		out[i] = g.order(order.Platforms[i%len(order.Platforms)])
	}
	return out
}

// order plans one order of p: one order status push per lifecycle step,
// ten minutes apart.
func (g *pushgen) order(p order.Platform) *orderPlan {
	g.t.Helper()
	g.n++
	shop := fmt.Sprint(500100 + g.n%3)
	id := fmt.Sprint(880000000 + g.n)
	t0 := g.start + int64(g.n)*10
	plan := &orderPlan{key: order.Key{Platform: p, ShopID: shop, OrderID: id}}
	for step, raw := range lifecycles[p] {
		ps := g.sign(p, g.body(p, shop, id, raw, t0+int64(step)*600, step))
		if k := (order.Key{Platform: ps.ev.Platform, ShopID: ps.ev.ShopID, OrderID: ps.ev.OrderID}); k != plan.key {
			g.t.Fatalf("pushgen: %s parses as order %+v, want %+v", ps.body, k, plan.key)
		}
		plan.pushes = append(plan.pushes, ps)
	}
	return plan
}

// body is the JSON of an order status push as the marketplace sends it.
func (g *pushgen) body(p order.Platform, shop, id, raw string, updated int64, step int) []byte {
	var v any
	switch p {
	case order.Shopee:
		v = map[string]any{
			"msg_id":    fmt.Sprintf("e2e%s%02d", id, step),
			"shop_id":   json.Number(shop),
			"code":      3, // order status
			"timestamp": updated + 1,
			"data":      map[string]any{"ordersn": id, "status": raw, "update_time": updated},
		}
	case order.Lazada:
		v = map[string]any{
			"seller_id":    shop,
			"message_type": 0, // trade order
			"timestamp":    (updated + 1) * 1000,
			"site":         "lazada_sg",
			"data": map[string]any{
				"trade_order_id": id, "trade_order_line_id": id + "01",
				"order_status": raw, "status_update_time": updated,
			},
		}
	case order.TikTok:
		v = map[string]any{
			"type":                1, // order status change
			"tts_notification_id": fmt.Sprintf("7%s%02d", id, step),
			"shop_id":             shop,
			"timestamp":           updated + 1,
			"data":                map[string]any{"order_id": id, "order_status": raw, "update_time": updated},
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		g.t.Fatalf("pushgen: %v", err)
	}
	return b
}

// sign signs body as marketplace p does and parses it with p's Parse, the
// function the gateway uses, for the key and status the server must record.
func (g *pushgen) sign(p order.Platform, body []byte) *push {
	g.t.Helper()
	var (
		sig   string
		parse func([]byte, time.Time) (order.Event, error)
	)
	switch p {
	case order.Shopee:
		sig, parse = shopee.SignPush(g.callbackURL, []byte(shopeePushKey), body), shopee.Parse
	case order.Lazada:
		sig, parse = lazada.SignPush(lazadaAppKey, []byte(lazadaSecret), body), lazada.Parse
	case order.TikTok:
		sig, parse = tiktok.SignPush(tiktokAppKey, []byte(tiktokSecret), body), tiktok.Parse
	}
	ev, err := parse(body, time.Now())
	if err != nil {
		g.t.Fatalf("pushgen: %s push does not parse: %v\n%s", p, err, body)
	}
	if ev.Kind != order.KindStatus || ev.Status == "" || ev.Status == order.StatusUnknown || ev.Key == "" {
		g.t.Fatalf("pushgen: %s push parses as kind %q status %q key %q, want a mapped order status with a key", p, ev.Kind, ev.Status, ev.Key)
	}
	return &push{path: "/webhooks/" + string(p), body: body, sig: sig, ev: ev}
}

// deal splits plans round-robin into n lists, one per sender.
func deal(plans []*orderPlan, n int) [][]*orderPlan {
	out := make([][]*orderPlan, n)
	for i, p := range plans {
		out[i%n] = append(out[i%n], p)
	}
	return out
}
