package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/store/postgres"
)

// TestRejectedDetailSparesItsBatch: a detail PostgreSQL cannot hold (a NUL
// character, which jsonb refuses) fails alone with order.ErrRejected while
// the details sharing its transaction commit.
func TestRejectedDetailSparesItsBatch(t *testing.T) {
	t.Parallel()
	s := newDatabase(t).open(t, postgres.Config{Writers: 1})
	ctx := context.Background()
	const good = 32
	upd := time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make([]error, good+1)
	for i := range good + 1 {
		wg.Go(func() {
			d := order.Detail{Status: "UNPAID", UpdateTime: upd, Currency: "SGD", Total: "1",
				Items: []order.Item{{SKU: "S", Name: "ok", Quantity: 1}}}
			if i == good {
				d.Items[0].Name = "bad\x00name"
			}
			_, errs[i] = s.SetDetail(ctx, order.Key{Platform: order.Lazada, ShopID: "1", OrderID: fmt.Sprint("D", i)}, d, order.StatusUnpaid)
		})
	}
	wg.Wait()
	for i, err := range errs[:good] {
		if err != nil {
			t.Fatalf("good detail %d: %v", i, err)
		}
	}
	if !errors.Is(errs[good], order.ErrRejected) {
		t.Fatalf("detail with a NUL: %v, want ErrRejected", errs[good])
	}
	p, err := s.List(ctx, order.Filter{Limit: 1000})
	if err != nil || len(p.Orders) != good {
		t.Fatalf("orders: %v, %d, want %d", err, len(p.Orders), good)
	}
}
