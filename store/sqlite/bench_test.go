package sqlite_test

import (
	"context"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/store/sqlite"
)

// BenchmarkApply measures applying one event to its order from concurrent
// workers (as the orders subscription does), with synchronous=FULL (fsync
// per commit, shared by the batch) and NORMAL.
func BenchmarkApply(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("synchronous="+sync, func(b *testing.B) {
			s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(b.TempDir(), "o.db"), Synchronous: sync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			payload := make([]byte, 400)
			var n atomic.Uint64
			b.SetParallelism(16)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					_, err := s.Apply(context.Background(), &order.Event{
						Platform: order.Shopee, ShopID: "336094210", OrderID: "O" + strconv.FormatUint(i, 10),
						Kind: order.KindStatus, PushType: "3", PlatformStatus: "READY_TO_SHIP", Status: order.StatusReadyToShip,
						UpdateTime: time.Unix(int64(i), 0), Key: strconv.FormatUint(i, 10), ReceivedAt: time.Now(),
						Payload: payload, Seq: i,
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGet measures the API's order look-up (the order and its detail)
// from concurrent readers, on a store of 10,000 orders.
func BenchmarkGet(b *testing.B) {
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(b.TempDir(), "o.db"), Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const orders = 10_000
	for i := range orders {
		if _, err := s.Apply(context.Background(), &order.Event{
			Platform: order.Shopee, ShopID: "336094210", OrderID: "O" + strconv.Itoa(i),
			Kind: order.KindStatus, PushType: "3", PlatformStatus: "READY_TO_SHIP", Status: order.StatusReadyToShip,
			UpdateTime: time.Unix(int64(i), 0), Key: strconv.Itoa(i), ReceivedAt: time.Now(), Seq: uint64(i + 1),
		}); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := "O" + strconv.FormatUint(n.Add(7919)%orders, 10)
			o, err := s.Get(context.Background(), order.Key{Platform: order.Shopee, ShopID: "336094210", OrderID: id})
			if err != nil || o.OrderID != id {
				b.Errorf("get %s: %+v, %v", id, o, err)
				return
			}
		}
	})
}
