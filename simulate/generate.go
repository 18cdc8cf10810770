package simulate

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
)

// Order lifecycles, as each marketplace pushes them. The last status of a
// lifecycle is the order's expected final state.
var (
	shopeeFlow   = []string{"UNPAID", "READY_TO_SHIP", "PROCESSED", "SHIPPED", "TO_CONFIRM_RECEIVE", "COMPLETED"}
	shopeeCancel = []string{"UNPAID", "IN_CANCEL", "CANCELLED"}
	lazadaFlow   = []string{"unpaid", "pending", "packed", "ready_to_ship", "shipped", "delivered"}
	lazadaCancel = []string{"unpaid", "canceled"}
	tiktokFlow   = []string{"UNPAID", "AWAITING_SHIPMENT", "AWAITING_COLLECTION", "IN_TRANSIT", "DELIVERED", "COMPLETED"}
	tiktokCancel = []string{"UNPAID", "CANCEL"}
)

// cancelRatio is the share of orders that are cancelled instead of
// completed.
const cancelRatio = 0.1

// Shopee push codes the generator sends.
const (
	shopeeCodeStatus   = 3
	shopeeCodeTracking = 4
)

// push is one signed marketplace push, ready to send.
type push struct {
	path      string // "/webhooks/shopee", ...
	body      []byte
	signature string
	// final marks a push that carries the order's final status.
	final bool
	// key is the idempotency key the server derives (by the marketplace's
	// own parser), to find the push in an order's history.
	key string
}

// delivery is one send of a push; a duplicate resends a push already in the
// sequence, byte for byte.
type delivery struct {
	push      *push
	duplicate bool
}

// orderPlan is one simulated order: who it is, what it must end as, and the
// deliveries that get it there, in send order.
type orderPlan struct {
	platform order.Platform
	shopID   string
	orderID  string
	// finalRaw is the marketplace status of the last lifecycle step and
	// finalStatus its unified mapping: the state the API must show.
	finalRaw    string
	finalStatus order.Status
	sends       []delivery

	// Set by the order's sender (read only after the send phase).
	sent          int           // deliveries made
	failed        int           // deliveries never accepted
	finalAccepted bool          // some push carrying the final status was accepted
	acked         []string      // keys of the accepted pushes, in acknowledgement order
	last          chan struct{} // open loop: closed when the previous delivery ended
}

// generator builds order plans. Decisions come from plan, seeded by the
// seed alone; identifiers come from ids, seeded by the seed and a per-run
// nonce, so that they are unique per run.
type generator struct {
	o    Options
	plan *rand.Rand
	ids  *rand.Rand
	now  time.Time
	seen map[string]struct{}

	shopee func(body []byte) string
	lazada func(body []byte) string
	tiktok func(body []byte) string
}

// A shop of one marketplace. region is the Shopee region or Lazada site
// suffix.
type shop struct {
	id     string
	region string
}

func newGenerator(o Options, seed, nonce uint64, now time.Time) *generator {
	shopeeKey := o.shopeeKey()
	return &generator{
		o:    o,
		plan: rand.New(rand.NewPCG(seed, 0x6f72646572)), // "order"
		ids:  rand.New(rand.NewPCG(seed, nonce)),
		now:  now,
		seen: map[string]struct{}{},
		shopee: func(body []byte) string {
			return shopee.SignPush(o.Shopee.CallbackURL, shopeeKey, body)
		},
		lazada: func(body []byte) string {
			return lazada.SignPush(o.Lazada.AppKey, []byte(o.Lazada.AppSecret), body)
		},
		tiktok: func(body []byte) string {
			return tiktok.SignPush(o.TikTok.AppKey, []byte(o.TikTok.AppSecret), body)
		},
	}
}

// generate returns the plans of o.Orders orders, spread round-robin over
// the marketplaces with secrets.
func (g *generator) generate() ([]*orderPlan, error) {
	platforms := g.o.platforms()
	shops := map[order.Platform][]shop{}
	for _, p := range platforms {
		for range g.o.Shops {
			shops[p] = append(shops[p], g.newShop(p))
		}
	}
	plans := make([]*orderPlan, 0, g.o.Orders)
	for i := range g.o.Orders {
		p := platforms[i%len(platforms)]
		s := shops[p][g.plan.IntN(len(shops[p]))]
		var (
			plan *orderPlan
			err  error
		)
		switch p {
		case order.Shopee:
			plan, err = g.shopeeOrder(s)
		case order.Lazada:
			plan, err = g.lazadaOrder(s)
		case order.TikTok:
			plan, err = g.tiktokOrder(s)
		}
		if err != nil {
			return nil, fmt.Errorf("simulate: generate %s order: %w", p, err)
		}
		plans = append(plans, plan)
	}
	return plans, nil
}

// newShop returns a shop with a realistic id for p.
func (g *generator) newShop(p order.Platform) shop {
	switch p {
	case order.Shopee:
		return shop{id: g.unique(func() string { return g.digits(9) }), region: pick(g.ids, "SG", "MY", "TH", "VN", "ID", "PH")}
	case order.Lazada:
		return shop{id: g.unique(func() string { return g.digits(10) }), region: pick(g.ids, "sg", "my", "th", "vn", "id", "ph")}
	default:
		return shop{id: g.unique(func() string { return "7494" + g.digits(15) })}
	}
}

// lifecycle picks the completed or the cancelled flow and returns it with
// one strictly increasing Unix time (seconds) per step, all in the past.
func (g *generator) lifecycle(flow, cancel []string) ([]string, []int64) {
	steps := flow
	if g.plan.Float64() < cancelRatio {
		steps = cancel
	}
	// Start one to three days ago; each step follows by 30 s to 4 h, so
	// the whole lifecycle ends before now.
	t := g.now.Add(-72*time.Hour).Unix() + g.plan.Int64N(48*3600)
	times := make([]int64, len(steps))
	for i := range steps {
		if i > 0 {
			t += 30 + g.plan.Int64N(4*3600-30)
		}
		times[i] = t
	}
	return steps, times
}

// shopeeItem is one line of a Shopee code 3 push's items.
type shopeeItem struct {
	ItemID           int64 `json:"item_id"`
	ModelID          int64 `json:"model_id"`
	OrderItemID      int64 `json:"order_item_id"`
	PromotionGroupID int64 `json:"promotion_group_id"`
}

// shopeePush is the Shopee push envelope, fields in the order Shopee sends
// them.
type shopeePush struct {
	MsgID     string `json:"msg_id"`
	Data      any    `json:"data"`
	ShopID    int64  `json:"shop_id"`
	Code      int    `json:"code"`
	Timestamp int64  `json:"timestamp"`
}

// shopeeStatus is the data of a code 3 (order status) push.
type shopeeStatus struct {
	CompletedScenario *string      `json:"completed_scenario"`
	Items             []shopeeItem `json:"items"`
	OrderSN           string       `json:"ordersn"`
	Status            string       `json:"status"`
	UpdateTime        int64        `json:"update_time"`
}

// shopeeTracking is the data of a code 4 (tracking number) push.
type shopeeTracking struct {
	OrderSN       string `json:"ordersn"`
	ForderID      string `json:"forder_id"`
	PackageNumber string `json:"package_number"`
	TrackingNo    string `json:"tracking_no"`
}

// shopeeOrder plans a Shopee order: one code 3 push per status, and a
// code 4 tracking push after PROCESSED.
func (g *generator) shopeeOrder(s shop) (*orderPlan, error) {
	steps, times := g.lifecycle(shopeeFlow, shopeeCancel)
	created := time.Unix(times[0], 0).UTC()
	sn := g.unique(func() string { return created.Format("060102") + g.base36(8) })
	shopID, err := strconv.ParseInt(s.id, 10, 64)
	if err != nil {
		return nil, err
	}
	items := make([]shopeeItem, 1+g.plan.IntN(3))
	for i := range items {
		id := g.int64Digits(11)
		items[i] = shopeeItem{ItemID: id, ModelID: g.int64Digits(11), OrderItemID: id}
	}
	plan := g.newPlan(order.Shopee, s.id, sn, steps, shopee.MapStatus)
	var pushes []*push
	for i, st := range steps {
		body, err := json.Marshal(shopeePush{
			MsgID:     g.msgID(),
			Data:      shopeeStatus{Items: items, OrderSN: sn, Status: st, UpdateTime: times[i]},
			ShopID:    shopID,
			Code:      shopeeCodeStatus,
			Timestamp: times[i] + 1 + g.plan.Int64N(3),
		})
		if err != nil {
			return nil, err
		}
		pushes = append(pushes, g.push(order.Shopee, body, i == len(steps)-1))
		if st == "PROCESSED" {
			body, err := json.Marshal(shopeePush{
				MsgID: g.msgID(),
				Data: shopeeTracking{
					OrderSN:       sn,
					ForderID:      g.digits(19),
					PackageNumber: "OFG" + g.digits(15),
					TrackingNo:    "SPX" + s.region + "0" + g.digits(11),
				},
				ShopID:    shopID,
				Code:      shopeeCodeTracking,
				Timestamp: times[i] + 20 + g.plan.Int64N(600),
			})
			if err != nil {
				return nil, err
			}
			pushes = append(pushes, g.push(order.Shopee, body, false))
		}
	}
	plan.sends = g.sequence(pushes)
	return plan, nil
}

// lazadaPush is a Lazada trade order push (message_type 0), fields in the
// order Lazada sends them.
type lazadaPush struct {
	SellerID    any        `json:"seller_id"`
	MessageType int        `json:"message_type"`
	Data        lazadaData `json:"data"`
	Timestamp   int64      `json:"timestamp"`
	Site        string     `json:"site"`
}

// lazadaData is the data of a trade order push: one order line's status.
type lazadaData struct {
	BuyerID          any      `json:"buyer_id"`
	ExtraParams      struct{} `json:"extra_params"`
	OrderStatus      string   `json:"order_status"`
	StatusUpdateTime int64    `json:"status_update_time"`
	TradeOrderID     any      `json:"trade_order_id"`
	TradeOrderLineID any      `json:"trade_order_line_id"`
}

// lazadaOrder plans a Lazada order of one to three lines: one push per line
// per status. Ids are sent as strings or as numbers and the envelope
// timestamp in milliseconds or in seconds, push by push, as Lazada does.
func (g *generator) lazadaOrder(s shop) (*orderPlan, error) {
	steps, times := g.lifecycle(lazadaFlow, lazadaCancel)
	orderID := g.unique(func() string { return "2" + g.digits(14) })
	lines := make([]string, 1+g.plan.IntN(3))
	for i := range lines {
		lines[i] = g.unique(func() string { return "2" + g.digits(14) })
	}
	buyer := g.digits(9 + g.ids.IntN(4))
	plan := g.newPlan(order.Lazada, s.id, orderID, steps, lazada.MapStatus)
	var pushes []*push
	for i, st := range steps {
		for _, line := range lines {
			ts := times[i] + 1 + g.plan.Int64N(5)
			if g.plan.IntN(2) == 0 {
				ts = ts*1000 + g.plan.Int64N(1000)
			}
			body, err := json.Marshal(lazadaPush{
				SellerID:    g.lazadaID(s.id),
				MessageType: 0,
				Data: lazadaData{
					BuyerID:          g.lazadaID(buyer),
					OrderStatus:      st,
					StatusUpdateTime: times[i],
					TradeOrderID:     g.lazadaID(orderID),
					TradeOrderLineID: g.lazadaID(line),
				},
				Timestamp: ts,
				Site:      "lazada_" + s.region,
			})
			if err != nil {
				return nil, err
			}
			pushes = append(pushes, g.push(order.Lazada, body, i == len(steps)-1))
		}
	}
	plan.sends = g.sequence(pushes)
	return plan, nil
}

// lazadaID returns id as a JSON string or a JSON number, at random.
func (g *generator) lazadaID(id string) any {
	if g.plan.IntN(2) == 0 {
		return json.Number(id)
	}
	return id
}

// tiktokPush is a TikTok Shop order status push (type 1), fields in the
// order TikTok sends them.
type tiktokPush struct {
	Type              int        `json:"type"`
	TTSNotificationID string     `json:"tts_notification_id"`
	ShopID            string     `json:"shop_id"`
	Timestamp         int64      `json:"timestamp"`
	Data              tiktokData `json:"data"`
}

// tiktokData is the data of an order status push.
type tiktokData struct {
	OrderID       string `json:"order_id"`
	OrderStatus   string `json:"order_status"`
	IsOnHoldOrder bool   `json:"is_on_hold_order"`
	UpdateTime    int64  `json:"update_time"`
}

// tiktokOrder plans a TikTok Shop order: one type 1 push per status.
func (g *generator) tiktokOrder(s shop) (*orderPlan, error) {
	steps, times := g.lifecycle(tiktokFlow, tiktokCancel)
	orderID := g.unique(func() string { return "57" + g.digits(16) })
	plan := g.newPlan(order.TikTok, s.id, orderID, steps, tiktok.MapStatus)
	var pushes []*push
	for i, st := range steps {
		body, err := json.Marshal(tiktokPush{
			Type:              1,
			TTSNotificationID: g.unique(func() string { return "7" + g.digits(18) }),
			ShopID:            s.id,
			Timestamp:         times[i] + g.plan.Int64N(3),
			Data:              tiktokData{OrderID: orderID, OrderStatus: st, UpdateTime: times[i]},
		})
		if err != nil {
			return nil, err
		}
		pushes = append(pushes, g.push(order.TikTok, body, i == len(steps)-1))
	}
	plan.sends = g.sequence(pushes)
	return plan, nil
}

// newPlan returns the plan of an order whose lifecycle is steps.
func (g *generator) newPlan(p order.Platform, shopID, orderID string, steps []string, mapStatus func(string) order.Status) *orderPlan {
	final := steps[len(steps)-1]
	return &orderPlan{platform: p, shopID: shopID, orderID: orderID, finalRaw: final, finalStatus: mapStatus(final)}
}

// push signs body for p.
func (g *generator) push(p order.Platform, body []byte, final bool) *push {
	var (
		sig string
		e   order.Event
		err error
	)
	switch p {
	case order.Shopee:
		sig = g.shopee(body)
		e, err = shopee.Parse(body, g.now)
	case order.Lazada:
		sig = g.lazada(body)
		e, err = lazada.Parse(body, g.now)
	case order.TikTok:
		sig = g.tiktok(body)
		e, err = tiktok.Parse(body, g.now)
	}
	if err != nil {
		// The generator's own bodies always parse; this would be a bug here.
		panic(fmt.Sprintf("simulate: generated %s push does not parse: %v", p, err))
	}
	return &push{path: "/webhooks/" + string(p), body: body, signature: sig, final: final, key: e.Key}
}

// sequence decides the send order of an order's pushes: lifecycle order,
// or, for ShuffleRatio of orders, with one or two adjacent swaps; then
// DuplicateRatio of the pushes are sent a second time, right after the
// first send or later in the sequence.
func (g *generator) sequence(pushes []*push) []delivery {
	seq := append([]*push(nil), pushes...)
	if len(seq) >= 2 && g.plan.Float64() < g.o.ShuffleRatio {
		first := g.plan.IntN(len(seq) - 1)
		seq[first], seq[first+1] = seq[first+1], seq[first]
		if len(seq) >= 4 && g.plan.IntN(2) == 0 {
			if i := g.plan.IntN(len(seq) - 1); i != first {
				seq[i], seq[i+1] = seq[i+1], seq[i]
			}
		}
	}
	later := make([][]*push, len(seq))
	out := make([]delivery, 0, len(seq)+2)
	for i, p := range seq {
		out = append(out, delivery{push: p})
		if g.plan.Float64() < g.o.DuplicateRatio {
			j := i
			if g.plan.IntN(2) == 0 {
				j += g.plan.IntN(len(seq) - i)
			}
			later[j] = append(later[j], p)
		}
		for _, d := range later[i] {
			out = append(out, delivery{push: d, duplicate: true})
		}
	}
	return out
}

// unique calls next until it returns an identifier not issued before in
// this run.
func (g *generator) unique(next func() string) string {
	for {
		id := next()
		if _, dup := g.seen[id]; !dup {
			g.seen[id] = struct{}{}
			return id
		}
	}
}

// digits returns n random decimal digits, the first not zero.
func (g *generator) digits(n int) string {
	b := make([]byte, n)
	b[0] = byte('1' + g.ids.IntN(9))
	for i := 1; i < n; i++ {
		b[i] = byte('0' + g.ids.IntN(10))
	}
	return string(b)
}

// int64Digits returns a random n-digit number (n <= 18).
func (g *generator) int64Digits(n int) int64 {
	v := int64(1 + g.ids.IntN(9))
	for range n - 1 {
		v = v*10 + int64(g.ids.IntN(10))
	}
	return v
}

// base36 returns n random upper-case base-36 characters.
func (g *generator) base36(n int) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[g.ids.IntN(len(alphabet))])
	}
	return b.String()
}

// msgID returns a unique Shopee msg_id: 32 lower-case hex digits.
func (g *generator) msgID() string {
	return g.unique(func() string { return fmt.Sprintf("%016x%016x", g.ids.Uint64(), g.ids.Uint64()) })
}

// pick returns one of choices at random.
func pick(r *rand.Rand, choices ...string) string {
	return choices[r.IntN(len(choices))]
}
