package chaos

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
)

// lifecycles are the raw statuses each marketplace pushes for one order, in
// order; each maps onto a different unified status.
var lifecycles = map[order.Platform][]string{
	order.Shopee: {"UNPAID", "READY_TO_SHIP", "SHIPPED", "COMPLETED"},
	order.Lazada: {"unpaid", "packed", "shipped", "delivered"},
	order.TikTok: {"UNPAID", "AWAITING_SHIPMENT", "IN_TRANSIT", "COMPLETED"},
}

// push is one signed marketplace push.
type push struct {
	path, sig string
	body      []byte
	// ev is what the gateway will make of body (the marketplace package's
	// Parse): its Key is the idempotency key the server records.
	ev order.Event
	// poison: accepted by the gateway, never applicable (its update time
	// lies days ahead); it must end in the dead-letter stream.
	poison bool
}

// plan is one order and its pushes in send order.
type plan struct {
	key    order.Key
	pushes []*push
	// Written by the one sender that owns the order, read after the
	// senders have stopped: acked[i] once push i was answered 200.
	acked []bool
}

// generator makes orders of signed pushes; safe for concurrent use.
type generator struct {
	t           testing.TB
	callbackURL string
	poison      float64 // share of orders with a poison push
	start       int64   // Unix time of the first order's first update

	mu  sync.Mutex
	n   int
	rnd *rand.Rand
}

func newGenerator(t testing.TB, callbackURL string, poison float64, seed uint64) *generator {
	return &generator{
		t: t, callbackURL: callbackURL, poison: poison,
		start: time.Now().Add(-48 * time.Hour).Unix(), rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

// next plans a new order: one status push per lifecycle step, ten minutes
// apart, and for a share of orders a poison push after the second step.
func (g *generator) next() *plan {
	g.mu.Lock()
	g.n++
	n := g.n
	poison := g.rnd.Float64() < g.poison
	g.mu.Unlock()
	p := order.Platforms[n%len(order.Platforms)]
	shop := fmt.Sprint(700100 + n%5)
	id := fmt.Sprint(990000000 + n)
	t0 := g.start + int64(n)
	pl := &plan{key: order.Key{Platform: p, ShopID: shop, OrderID: id}}
	steps := lifecycles[p]
	for step, raw := range steps {
		pl.pushes = append(pl.pushes, g.sign(p, g.body(p, shop, id, raw, t0+int64(step)*600, fmt.Sprint(step))))
		if poison && step == 1 {
			future := time.Now().Add(72 * time.Hour).Unix()
			ps := g.sign(p, g.body(p, shop, id, steps[2], future, "p"))
			ps.poison = true
			pl.pushes = append(pl.pushes, ps)
		}
	}
	pl.acked = make([]bool, len(pl.pushes))
	return pl
}

// body is the JSON of an order status push as the marketplace sends it.
func (g *generator) body(p order.Platform, shop, id, raw string, updated int64, tag string) []byte {
	var v any
	switch p {
	case order.Shopee:
		v = map[string]any{
			"msg_id": "chaos" + id + tag, "shop_id": json.Number(shop), "code": 3, "timestamp": updated + 1,
			"data": map[string]any{"ordersn": id, "status": raw, "update_time": updated},
		}
	case order.Lazada:
		v = map[string]any{
			"seller_id": shop, "message_type": 0, "timestamp": (updated + 1) * 1000, "site": "lazada_sg",
			"data": map[string]any{
				"trade_order_id": id, "trade_order_line_id": id + "01",
				"order_status": raw, "status_update_time": updated,
			},
		}
	case order.TikTok:
		v = map[string]any{
			"type": 1, "tts_notification_id": "8" + id + tag, "shop_id": shop, "timestamp": updated + 1,
			"data": map[string]any{"order_id": id, "order_status": raw, "update_time": updated},
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		g.t.Fatalf("chaos: %v", err)
	}
	return b
}

// sign signs body as marketplace p does and parses it with p's Parse.
func (g *generator) sign(p order.Platform, body []byte) *push {
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
	if err != nil || ev.Key == "" || ev.Status == "" || ev.Status == order.StatusUnknown {
		g.t.Errorf("chaos: %s push parses as %+v, %v\n%s", p, ev, err, body)
	}
	return &push{path: "/webhooks/" + string(p), body: body, sig: sig, ev: ev}
}
