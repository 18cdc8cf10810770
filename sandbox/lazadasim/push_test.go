package lazadasim_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/lazadasim"
)

// parsePushes verifies and parses every push as orderlane's receiver
// does, and checks what the push says it is about.
func parsePushes(t *testing.T, pushes []sandbox.Push) []order.Event {
	t.Helper()
	v := lazada.NewVerifier(appKey, []byte(appSecret))
	keys := map[string]bool{}
	var out []order.Event
	for _, p := range pushes {
		if p.Platform != order.Lazada || p.Header != "Authorization" {
			t.Fatalf("push %+v", p)
		}
		if err := v.Verify(p.Signature, p.Body); err != nil {
			t.Fatalf("signature of %s: %v", p.Body, err)
		}
		ev, err := lazada.Parse(p.Body, t0)
		if err != nil {
			t.Fatalf("Parse(%s): %v", p.Body, err)
		}
		if ev.Kind != p.Kind || ev.OrderID != p.OrderID || ev.ShopID != shopID {
			t.Fatalf("parsed %+v from push %+v", ev, p)
		}
		if keys[ev.Key] {
			t.Fatalf("two pushes with the key %s", ev.Key)
		}
		keys[ev.Key] = true
		out = append(out, ev)
	}
	return out
}

func TestPushesOnePerLine(t *testing.T) {
	t.Parallel()
	b := setup(t, lazadasim.Config{}, nil)
	o := sampleOrder("3001", 3, t0.Add(-time.Second))
	o.Units[0].Status, o.Units[1].Status = "shipped", "shipped"
	o.Status = "ready_to_ship"

	pushes, err := b.sim.Pushes(sandbox.Change{Kind: order.KindStatus, Order: o, LineIDs: []string{o.Units[0].LineID, o.Units[1].LineID}})
	if err != nil {
		t.Fatal(err)
	}
	evs := parsePushes(t, pushes)
	if len(evs) != 2 {
		t.Fatalf("%d pushes for 2 changed lines", len(evs))
	}
	for i, ev := range evs {
		if ev.Kind != order.KindStatus || ev.PlatformStatus != "shipped" || ev.Status != order.StatusShipped ||
			!ev.UpdateTime.Equal(o.UpdateTime) || ev.PushType != "0" {
			t.Fatalf("event %+v", ev)
		}
		var body struct {
			SellerID    string `json:"seller_id"`
			MessageType int    `json:"message_type"`
			Site        string `json:"site"`
			Timestamp   int64  `json:"timestamp"`
			Data        struct {
				Line string `json:"trade_order_line_id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(pushes[i].Body, &body); err != nil {
			t.Fatal(err)
		}
		if body.Data.Line != o.Units[i].LineID || body.Site != "lazada_sg" || body.Timestamp != t0.UnixMilli() || body.SellerID != shopID {
			t.Fatalf("body %s", pushes[i].Body)
		}
	}

	all, err := b.sim.Pushes(sandbox.Change{Kind: order.KindStatus, Order: o})
	if err != nil {
		t.Fatal(err)
	}
	evs = parsePushes(t, all)
	if len(evs) != 3 || evs[2].PlatformStatus != "ready_to_ship" {
		t.Fatalf("%d pushes without LineIDs: %+v", len(evs), evs)
	}
}

func TestPushesReverseOrders(t *testing.T) {
	t.Parallel()
	b := setup(t, lazadasim.Config{}, nil)
	o := sampleOrder("3101", 3, t0)
	for _, c := range []struct {
		rev   sandbox.Reverse
		lines []string
		kind  order.Kind
		n     int
	}{
		{sandbox.Reverse{ID: "658960600102006", Status: "CANCEL_INIT", LineIDs: []string{o.Units[2].LineID}}, nil, order.KindCancellation, 1},
		{sandbox.Reverse{ID: "658960600102006", Status: "CANCEL_SUCCESS", LineIDs: []string{o.Units[0].LineID, o.Units[2].LineID}}, nil, order.KindCancellation, 2},
		{sandbox.Reverse{ID: "7001", Return: true, Status: "RTM_INIT", LineIDs: []string{o.Units[0].LineID, o.Units[1].LineID}}, []string{o.Units[1].LineID}, order.KindReturn, 1},
		{sandbox.Reverse{ID: "7001", Return: true, Status: "REFUND_SUCCESS"}, nil, order.KindReturn, 3},
	} {
		rev := c.rev
		pushes, err := b.sim.Pushes(sandbox.Change{Kind: c.kind, Order: o, Reverse: &rev, LineIDs: c.lines})
		if err != nil {
			t.Fatal(err)
		}
		evs := parsePushes(t, pushes)
		if len(evs) != c.n {
			t.Fatalf("%s: %d pushes, want %d", rev.Status, len(evs), c.n)
		}
		for _, ev := range evs {
			if ev.Kind != c.kind || ev.PlatformStatus != rev.Status || ev.PushType != "10" || ev.OrderID != o.OrderID {
				t.Fatalf("%s: event %+v", rev.Status, ev)
			}
		}
	}
}

func TestPushesNoneOrRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, lazadasim.Config{}, nil)
	o := sampleOrder("3201", 2, t0)
	for _, k := range []order.Kind{order.KindTracking, order.KindDocument, order.KindPackage, order.KindAddress} {
		if p, err := b.sim.Pushes(sandbox.Change{Kind: k, Order: o}); err != nil || len(p) != 0 {
			t.Fatalf("%s: %d pushes, %v (Lazada sends none)", k, len(p), err)
		}
	}
	for name, c := range map[string]sandbox.Change{
		"cancel without reverse": {Kind: order.KindCancellation, Order: o},
		"unknown line":           {Kind: order.KindStatus, Order: o, LineIDs: []string{"nope"}},
		"other platform":         {Kind: order.KindStatus, Order: sandbox.Order{Platform: order.Shopee, OrderID: "1"}},
	} {
		if _, err := b.sim.Pushes(c); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}
