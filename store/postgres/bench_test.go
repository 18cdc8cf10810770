package postgres_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/store/postgres"
)

// BenchmarkApply measures applying one event to its order from 32
// concurrent callers (as the orders subscription does with its workers),
// the same load as store/sqlite's BenchmarkApply: with group commit
// (batches of up to 256 in one transaction, 1 or 2 writer connections)
// and with one transaction per apply (16 connections). Each event either
// creates an order (new) or updates one of 1,000 (existing). Reported:
// applies per second.
func BenchmarkApply(b *testing.B) {
	for _, shape := range []string{"new", "existing"} {
		for _, c := range []struct {
			name              string
			maxBatch, writers int
		}{
			{"batched/writers=1", 256, 1},
			{"batched/writers=2", 256, 2},
			{"tx-per-apply/conns=16", 1, 16},
		} {
			b.Run(shape+"/"+c.name, func(b *testing.B) {
				s := newDatabase(b).open(b, postgres.Config{MaxBatch: c.maxBatch, Writers: c.writers})
				payload := make([]byte, 400)
				var n atomic.Uint64
				run := fmt.Sprint(time.Now().UnixNano())
				b.SetParallelism(16)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := n.Add(1)
						id := i
						if shape == "existing" {
							id = i % 1000
						}
						_, err := s.Apply(context.Background(), &order.Event{
							Platform: order.Shopee, ShopID: "336094210", OrderID: "O" + strconv.FormatUint(id, 10),
							Kind: order.KindStatus, PushType: "3", PlatformStatus: "READY_TO_SHIP", Status: order.StatusReadyToShip,
							UpdateTime: time.Unix(int64(i), 0), Key: run + "-" + strconv.FormatUint(i, 10), ReceivedAt: time.Now(),
							Payload: payload, Seq: i,
						})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "applies/s")
			})
		}
	}
}
