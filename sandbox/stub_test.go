package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
)

// stub is a minimal marketplace: it renders changes as that marketplace's
// real push bodies (Shopee code 3/4, Lazada message 0/10 per line, TikTok
// type 1/4/11/12), signed as the marketplace signs them, and keeps lost
// pushes like Shopee's lost-push API. It records which step each push
// came from.
type stub struct {
	p        order.Platform
	app      sandbox.App
	callback string // Shopee signs the callback URL

	mu    sync.Mutex
	n     int            // pushes rendered (ids)
	steps int            // Pushes calls
	step  map[string]int // body -> Pushes call number
	lost  []sandbox.Push
}

func newStub(p order.Platform, callback string) *stub {
	return &stub{p: p, app: sandbox.TestApp(p), callback: callback, step: map[string]int{}}
}

func (s *stub) Platform() order.Platform { return s.p }
func (s *stub) Handler() http.Handler    { return http.NotFoundHandler() }

func (s *stub) Lose(p sandbox.Push) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lost = append(s.lost, p)
}

func (s *stub) lostPushes() []sandbox.Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sandbox.Push(nil), s.lost...)
}

// stepOf is the Pushes call that rendered body.
func (s *stub) stepOf(body []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.step[string(body)]
}

func (s *stub) Pushes(c sandbox.Change) ([]sandbox.Push, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps++
	o := &c.Order
	ts := o.UpdateTime.Unix()
	var bodies []any
	var kinds []order.Kind
	add := func(k order.Kind, b any) { bodies = append(bodies, b); kinds = append(kinds, k) }
	s.n++
	id := fmt.Sprintf("%032x", s.n)
	switch s.p {
	case order.Shopee:
		switch c.Kind {
		case order.KindStatus:
			add(c.Kind, map[string]any{"msg_id": id, "data": map[string]any{"items": []any{}, "ordersn": o.OrderID,
				"status": o.Status, "update_time": ts}, "shop_id": json.Number(o.ShopID), "code": 3, "timestamp": ts})
		case order.KindTracking:
			add(c.Kind, map[string]any{"msg_id": id, "data": map[string]any{"ordersn": o.OrderID, "forder_id": "0",
				"package_number": o.Packages[0].ID, "tracking_no": o.Packages[0].TrackingNo},
				"shop_id": json.Number(o.ShopID), "code": 4, "timestamp": ts})
		}
	case order.Lazada:
		for _, line := range c.LineIDs {
			data := map[string]any{"trade_order_id": o.OrderID, "trade_order_line_id": line, "status_update_time": ts}
			mt := 0
			if c.Reverse != nil {
				mt = 10
				data["reverse_order_id"] = c.Reverse.ID
				data["reverse_order_line_id"] = c.Reverse.ID + line[len(line)-4:]
				data["reverse_status"] = c.Reverse.Status
				data["seller_id"] = o.ShopID
			} else {
				for _, u := range o.Units {
					if u.LineID == line {
						data["order_status"] = u.Status
					}
				}
			}
			add(c.Kind, map[string]any{"seller_id": o.ShopID, "message_type": mt, "data": data,
				"timestamp": o.UpdateTime.UnixMilli(), "site": "lazada_" + strings.ToLower(regionOf(o.Currency))})
		}
	case order.TikTok:
		env := func(typ int, data map[string]any) map[string]any {
			data["order_id"] = o.OrderID
			data["update_time"] = ts
			return map[string]any{"type": typ, "tts_notification_id": fmt.Sprint(7327112393057371910 + int64(s.n)),
				"shop_id": o.ShopID, "timestamp": ts, "data": data}
		}
		switch c.Kind {
		case order.KindStatus:
			st := o.Status
			if st == "CANCELLED" {
				st = "CANCEL" // the webhook's word
			}
			add(c.Kind, env(1, map[string]any{"order_status": st, "is_on_hold_order": false}))
		case order.KindPackage:
			add(c.Kind, env(4, map[string]any{"package_id": o.Packages[0].ID,
				"package_list": []any{map[string]any{"order_id_list": []string{o.OrderID}}}}))
		case order.KindCancellation:
			add(c.Kind, env(11, map[string]any{"cancel_id": c.Reverse.ID, "cancel_status": c.Reverse.Status}))
		case order.KindReturn:
			add(c.Kind, env(12, map[string]any{"return_id": c.Reverse.ID, "return_status": c.Reverse.Status}))
		}
	}
	out := make([]sandbox.Push, 0, len(bodies))
	for i, b := range bodies {
		body, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		var sig string
		switch s.p {
		case order.Shopee:
			sig = shopee.SignPush(s.callback, []byte(s.app.PushKey), body)
		case order.Lazada:
			sig = lazada.SignPush(s.app.Key, []byte(s.app.Secret), body)
		case order.TikTok:
			sig = tiktok.SignPush(s.app.Key, []byte(s.app.Secret), body)
		}
		s.step[string(body)] = s.steps
		out = append(out, sandbox.Push{Platform: s.p, Header: "Authorization", Signature: sig, Body: body,
			Kind: kinds[i], OrderID: o.OrderID})
	}
	return out, nil
}

func regionOf(currency string) string {
	return map[string]string{"SGD": "SG", "MYR": "MY", "THB": "TH", "VND": "VN", "IDR": "ID", "PHP": "PH"}[currency]
}

// noLose hides a marketplace's Lose method.
type noLose struct{ sandbox.Marketplace }

// arrival is one request the receiver got.
type arrival struct {
	p     order.Platform
	body  string
	ev    order.Event
	at    time.Time
	valid bool // signature verified
}

// receiver is orderlane's webhook side as far as delivery cares: it
// verifies each marketplace's signature with the real verifiers, parses
// the push, records it and answers as answer says.
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	// answer decides the reply to the n-th arrival (1-based) of a body:
	// the status and how long to wait before answering.
	answer func(p order.Platform, ev order.Event, n int) (int, time.Duration)

	mu       sync.Mutex
	arrivals []arrival
	count    map[string]int
	seen     map[string]bool // event keys applied
	orders   map[order.Key]*order.Order
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, count: map[string]int{}, seen: map[string]bool{}, orders: map[order.Key]*order.Order{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url(p order.Platform) string { return r.srv.URL + "/webhooks/" + string(p) }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	p := order.Platform(strings.TrimPrefix(req.URL.Path, "/webhooks/"))
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	app := sandbox.TestApp(p)
	sig := req.Header.Get("Authorization")
	switch p {
	case order.Shopee:
		err = shopee.NewVerifier(r.url(p), []byte(app.PushKey)).Verify(sig, body)
	case order.Lazada:
		err = lazada.NewVerifier(app.Key, []byte(app.Secret)).Verify(sig, body)
	case order.TikTok:
		err = tiktok.NewVerifier(app.Key, []byte(app.Secret)).Verify(sig, body)
	default:
		err = fmt.Errorf("unknown platform %q", p)
	}
	a := arrival{p: p, body: string(body), at: time.Now(), valid: err == nil}
	if err == nil {
		switch p {
		case order.Shopee:
			a.ev, err = shopee.Parse(body, a.at)
		case order.Lazada:
			a.ev, err = lazada.Parse(body, a.at)
		case order.TikTok:
			a.ev, err = tiktok.Parse(body, a.at)
		}
		if err != nil {
			r.t.Errorf("parse %s push %s: %v", p, body, err)
		}
	}
	r.mu.Lock()
	r.arrivals = append(r.arrivals, a)
	r.count[a.body]++
	n := r.count[a.body]
	r.mu.Unlock()
	if !a.valid {
		r.t.Errorf("%s push with a bad signature: %v", p, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	status, delay := http.StatusOK, time.Duration(0)
	if r.answer != nil {
		status, delay = r.answer(p, a.ev, n)
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-req.Context().Done():
		}
		t.Stop()
	}
	if status/100 == 2 {
		r.apply(a.ev)
	}
	w.WriteHeader(status)
}

// apply folds an accepted event into the receiver's orders by orderlane's
// own status rule, skipping duplicates by idempotency key.
func (r *receiver) apply(ev order.Event) {
	if !ev.Kind.IsOrder() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[ev.Key] {
		return
	}
	r.seen[ev.Key] = true
	k := order.Key{Platform: ev.Platform, ShopID: ev.ShopID, OrderID: ev.OrderID}
	o := r.orders[k]
	if o == nil {
		o = &order.Order{}
		r.orders[k] = o
	}
	o.Apply(&ev, time.Now())
}

func (r *receiver) got() []order.Order {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]order.Order, 0, len(r.orders))
	for _, o := range r.orders {
		out = append(out, *o)
	}
	return out
}

func (r *receiver) all() []arrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]arrival(nil), r.arrivals...)
}

// setup is a sale on a fast clock, a receiver and one stub per platform.
type setup struct {
	clock  *sandbox.Clock
	sale   *sandbox.Sale
	script *sandbox.Script
	recv   *receiver
	stubs  map[order.Platform]*stub
	market map[order.Platform]sandbox.Marketplace
}

func newSetup(t *testing.T, factor float64, spec sandbox.Spec, seed uint64) *setup {
	t.Helper()
	clock := sandbox.NewClock(time.Now(), factor)
	sale := sandbox.NewSale(clock.Now)
	s := &setup{clock: clock, sale: sale, recv: newReceiver(t),
		stubs: map[order.Platform]*stub{}, market: map[order.Platform]sandbox.Marketplace{}}
	s.script = sandbox.Generate(sale, spec, rand.New(rand.NewPCG(seed, 7)))
	for _, p := range order.Platforms {
		st := newStub(p, s.recv.url(p))
		s.stubs[p], s.market[p] = st, st
	}
	return s
}

func (s *setup) deliver(t *testing.T, opts sandbox.DeliveryOptions) sandbox.Report {
	t.Helper()
	opts.Clock = s.clock
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := sandbox.Deliver(ctx, s.script, s.market, s.recv.url, opts)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	return rep
}
