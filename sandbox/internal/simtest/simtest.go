// Package simtest is what the marketplace fakes' tests share: a settable
// clock, the check that a generated sale's pushes verify and parse, and
// the check that a client reads back and lists every order of the sale.
package simtest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
)

// Clock is a settable clock for a sale, its fake and the client. It is
// safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t until moved.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// APIError is err's *marketplace.APIError, failing t when there is none.
func APIError(t testing.TB, err error) *marketplace.APIError {
	t.Helper()
	var e *marketplace.APIError
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *marketplace.APIError", err)
	}
	return e
}

// Pushed is one push of a script's step, as parsed.
type Pushed struct {
	Step  sandbox.Step
	Push  sandbox.Push
	Event order.Event
}

// Pushes renders every step of script with m, verifies each push with
// verify and parses it with parse (received at the step's time), failing
// t on an error or an event about another order or shop.
func Pushes(t testing.TB, m sandbox.Marketplace, script *sandbox.Script,
	verify func(signature string, body []byte) error,
	parse func(body []byte, at time.Time) (order.Event, error)) []Pushed {
	t.Helper()
	var out []Pushed
	for _, st := range script.Steps {
		ps, err := m.Pushes(st.Change)
		if err != nil {
			t.Fatalf("%s of %s: %v", st.Change.Kind, st.Change.Order.OrderID, err)
		}
		for _, p := range ps {
			if err := verify(p.Signature, p.Body); err != nil {
				t.Fatalf("push %s: %v", p.Body, err)
			}
			ev, err := parse(p.Body, st.At)
			if err != nil || ev.OrderID != st.Change.Order.OrderID || ev.ShopID != st.Change.Order.ShopID {
				t.Fatalf("push %s parsed as %+v, %v", p.Body, ev, err)
			}
			out = append(out, Pushed{Step: st, Push: p, Event: ev})
		}
	}
	return out
}

// ReadBack checks, for every shop of p in sale, that client fetches each
// of its orders (check compares one with the sale's truth) and lists
// exactly them over the script's span. shop makes the client's shop,
// token included. It returns how many orders check saw.
func ReadBack(t testing.TB, client marketplace.Client, sale *sandbox.Sale, script *sandbox.Script,
	shop func(sandbox.Shop) marketplace.Shop, check func(id string, got order.Detail, truth sandbox.Order)) int {
	t.Helper()
	ctx := context.Background()
	p := client.Platform()
	checked := 0
	for _, sh := range sale.Shops(p) {
		ms := shop(sh)
		var ids []string
		for _, o := range sale.Orders() {
			if o.Platform == p && o.ShopID == sh.ShopID {
				ids = append(ids, o.OrderID)
			}
		}
		got, err := client.Orders(ctx, ms, ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			truth, _ := sale.Truth(order.Key{Platform: p, ShopID: sh.ShopID, OrderID: id})
			d, ok := got[id]
			if !ok {
				t.Errorf("order %s missing", id)
				continue
			}
			checked++
			check(id, d, truth)
		}
		var listed []string
		for cursor := ""; ; {
			page, err := client.Updated(ctx, ms, script.Start, script.End.Add(time.Second), cursor)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Orders {
				listed = append(listed, r.OrderID)
			}
			if cursor = page.Cursor; cursor == "" {
				break
			}
		}
		slices.Sort(listed)
		slices.Sort(ids)
		if !slices.Equal(listed, ids) {
			t.Errorf("shop %s: listed %d orders, want %d", sh.ShopID, len(listed), len(ids))
		}
	}
	return checked
}
