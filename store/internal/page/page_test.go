package page

import (
	"errors"
	"testing"
	"time"

	"github.com/orderlane/orderlane/order"
)

func TestLimit(t *testing.T) {
	for in, want := range map[int]int{0: 100, -1: 100, 7: 7, 1000: 1000, 5000: 1000} {
		if got := Limit(order.Filter{Limit: in}); got != want {
			t.Errorf("Limit(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestCursorRoundTripAndCut(t *testing.T) {
	at := time.Date(2026, 11, 26, 5, 0, 0, 123, time.UTC)
	orders := []order.Order{{OrderID: "1"}, {Platform: order.Lazada, ShopID: "s", OrderID: "2", UpdatedAt: at}, {OrderID: "3"}}
	p := Cut(orders, 2)
	if len(p.Orders) != 2 || p.NextCursor == "" {
		t.Fatalf("cut to 2: %+v", p)
	}
	c, err := Decode(p.NextCursor)
	if err != nil || c != (Cursor{at.UnixNano(), "lazada", "s", "2"}) {
		t.Fatalf("cursor %+v %v", c, err)
	}
	if last := Cut(orders, 3); last.NextCursor != "" || len(last.Orders) != 3 {
		t.Fatalf("last page: %+v", last)
	}
	if _, err := Decode("not a cursor!"); !errors.Is(err, order.ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}
