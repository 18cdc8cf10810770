package jetstream_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	js "github.com/orderlane/orderlane/bus/jetstream"
)

// BenchmarkDurability compares JetStream's own ways to publish durably
// with orderlane's group commit, on the embedded server, 600-byte
// messages with a Nats-Msg-Id (as the gateway sends them):
//
//   - interval: the server fsyncs every second (fsync "1s");
//   - sync_always: the server fsyncs every write before the PubAck
//     (fsync "jetstream");
//   - group_commit: no sync_always, Publish waits for the Syncer's shared
//     fsync after the PubAck (fsync "always");
//
// each with synchronous publishes from 64 goroutines (the gateway's
// shape: one push, one publish, one answer), and for the first two with
// asynchronous publishes (4 publishers, 256 outstanding each), and with
// sync_always an atomic batch of 100 (nats-server >= 2.12: one commit per
// batch). Reported: msgs/s, and for the synchronous publishes the latency
// of one publish (p50, p99 in ms).
//
//	go test -run '^$' -bench Durability -benchtime 20000x ./bus/jetstream
func BenchmarkDurability(b *testing.B) {
	type mode struct {
		name string
		cfg  js.EmbeddedConfig
	}
	modes := []mode{
		{"interval", js.EmbeddedConfig{SyncInterval: time.Second}},
		{"sync_always", js.EmbeddedConfig{SyncAlways: true}},
		{"group_commit", js.EmbeddedConfig{GroupCommit: true}},
	}
	data := make([]byte, 600)
	for _, m := range modes {
		b.Run(m.name+"/sync_publish", func(b *testing.B) {
			jsc, syncer := durabilityStream(b, m.cfg, false)
			lat := make([]time.Duration, b.N)
			var next atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range 64 {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						t0 := time.Now()
						ack, err := jsc.PublishMsg(context.Background(), msg(i, data))
						if err == nil && syncer != nil {
							err = syncer.Wait(context.Background(), "B", ack.Sequence)
						}
						if err != nil {
							b.Error(err)
							return
						}
						lat[i] = time.Since(t0)
					}
				})
			}
			wg.Wait()
			report(b, start, b.N, lat)
			if syncer != nil {
				st := syncer.Stats()
				b.ReportMetric(float64(b.N)/float64(max(st.Rounds, 1)), "msgs/fsync")
			}
		})
		if m.name == "group_commit" {
			continue
		}
		b.Run(m.name+"/async_publish", func(b *testing.B) {
			jsc, _ := durabilityStream(b, m.cfg, false)
			var next atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							break
						}
						// Wait (up to a minute) for room under the pending cap
						// instead of failing: with sync_always the acks come at
						// fsync speed.
						if _, err := jsc.PublishMsgAsync(msg(i, data), jetstream.WithStallWait(time.Minute)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			select {
			case <-jsc.PublishAsyncComplete():
			case <-time.After(time.Minute):
				b.Fatal("async publishes not acknowledged after a minute")
			}
			report(b, start, b.N, nil)
		})
	}
	b.Run("sync_always/atomic_batch_100", func(b *testing.B) {
		jsc, _ := durabilityStream(b, js.EmbeddedConfig{SyncAlways: true}, true)
		nc := jsc.Conn()
		const size = 100
		batches := (b.N + size - 1) / size
		lat := make([]time.Duration, batches)
		var next atomic.Int64
		b.ResetTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for {
					n := next.Add(1) - 1
					if n >= int64(batches) {
						return
					}
					t0 := time.Now()
					id := "b" + strconv.FormatInt(n, 10)
					for k := 1; k <= size; k++ {
						m := msg(n*size+int64(k), data)
						m.Header.Set("Nats-Batch-Id", id)
						m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(k))
						if k < size {
							if err := nc.PublishMsg(m); err != nil {
								b.Error(err)
								return
							}
							continue
						}
						m.Header.Set("Nats-Batch-Commit", "1")
						resp, err := nc.RequestMsg(m, 10*time.Second)
						if err != nil {
							b.Error(err)
							return
						}
						if string(resp.Data[:min(len(resp.Data), 9)]) == `{"error":` {
							b.Errorf("batch %s: %s", id, resp.Data)
							return
						}
					}
					lat[n] = time.Since(t0)
				}
			})
		}
		wg.Wait()
		report(b, start, batches*size, lat)
	})
}

// durabilityStream starts a server and creates stream B on it.
func durabilityStream(b *testing.B, cfg js.EmbeddedConfig, atomicBatch bool) (jetstream.JetStream, *js.Syncer) {
	b.Helper()
	cfg.StoreDir = b.TempDir()
	e, err := js.StartEmbedded(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Close)
	jsc, err := jetstream.New(e.Conn, jetstream.WithPublishAsyncMaxPending(256))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := jsc.CreateStream(context.Background(), jetstream.StreamConfig{
		Name: "B", Subjects: []string{"b.>"}, Storage: jetstream.FileStorage, AllowAtomicPublish: atomicBatch,
	}); err != nil {
		b.Fatal(err)
	}
	if e.Syncer != nil {
		if err := e.Syncer.Track("B", 0); err != nil {
			b.Fatal(err)
		}
	}
	return jsc, e.Syncer
}

func msg(i int64, data []byte) *nats.Msg {
	m := nats.NewMsg("b.shopee.order")
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("id-%d", i))
	return m
}

// report sets msgs/s and, for per-publish latencies, p50 and p99 (ms).
func report(b *testing.B, start time.Time, msgs int, lat []time.Duration) {
	b.StopTimer()
	el := time.Since(start)
	b.ReportMetric(float64(msgs)/el.Seconds(), "msgs/s")
	b.ReportMetric(0, "ns/op")
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/1e6, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100])/1e6, "p99_ms")
}
