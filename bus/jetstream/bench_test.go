package jetstream_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/orderlane/orderlane/bus"
	js "github.com/orderlane/orderlane/bus/jetstream"
)

// BenchmarkPublish measures the durable append behind one push (~600 B),
// from parallel publishers as the gateway does, with fsync before every
// acknowledgement and with the 1 s interval.
func BenchmarkPublish(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  js.EmbeddedConfig
	}{
		{"fsync=always", js.EmbeddedConfig{SyncAlways: true}},
		{"fsync=1s", js.EmbeddedConfig{SyncInterval: 1e9}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tc.cfg.StoreDir = b.TempDir()
			e, err := js.StartEmbedded(tc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			bs, err := js.New(context.Background(), e.Conn, js.Config{})
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, 600)
			var n atomic.Int64
			b.SetParallelism(16) // 16 x GOMAXPROCS concurrent pushes
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					_, err := bs.Publish(context.Background(), bus.Message{
						ID: strconv.FormatInt(i, 10), Subject: "shopee.order",
						Group: "shopee:1:" + strconv.FormatInt(i%1000, 10), Data: data,
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
