package dedup_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/orderlane/orderlane/bus/jetstream"
	"github.com/orderlane/orderlane/cache"
	"github.com/orderlane/orderlane/cache/natskv"
	"github.com/orderlane/orderlane/cache/redisstore"
	"github.com/orderlane/orderlane/dedup"
)

// tier is one shared tier to run a test on.
type tier struct {
	name string
	// store returns a fresh namespace on the tier; calling the function
	// it returns again gives a second client on the same namespace (an
	// "other instance").
	store func(t *testing.T) func() cache.Store
}

func tiers() []tier {
	return []tier{{"kv", kvTier}, {"redis", redisTier}}
}

func kvTier(t *testing.T) func() cache.Store {
	e, err := jetstream.StartEmbedded(jetstream.EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	js, err := natsjs.New(e.Conn)
	if err != nil {
		t.Fatal(err)
	}
	return func() cache.Store {
		s, err := natskv.New(context.Background(), js, natskv.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// redisTier runs on the Redis at ORDERLANE_TEST_REDIS_URL (set by
// .ci/run), under a key prefix of its own.
func redisTier(t *testing.T) func() cache.Store {
	url := os.Getenv("ORDERLANE_TEST_REDIS_URL")
	if url == "" {
		t.Skip("ORDERLANE_TEST_REDIS_URL is not set: no Redis to test against (.ci/run sets it)")
	}
	prefix := "orderlane-test:" + rand.Text() + ":"
	return func() cache.Store {
		rdb, err := redisstore.NewClient(redisstore.ClientConfig{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rdb.Close() })
		if err := rdb.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("ORDERLANE_TEST_REDIS_URL is set but Redis does not answer: %v", err)
		}
		return redisstore.New(rdb, prefix)
	}
}

func newFilter(t *testing.T, cfg dedup.Config) *dedup.Filter {
	t.Helper()
	f, err := dedup.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

func seen(t *testing.T, f *dedup.Filter, key string) bool {
	t.Helper()
	ok, err := f.Seen(context.Background(), key)
	if err != nil {
		t.Fatalf("Seen(%q): %v", key, err)
	}
	return ok
}

func TestMemoryOnly(t *testing.T) {
	t.Parallel()
	f := newFilter(t, dedup.Config{})
	if seen(t, f, "shopee:1") {
		t.Fatal("an unmarked key is seen")
	}
	if err := f.Mark(context.Background(), "shopee:1"); err != nil {
		t.Fatal(err)
	}
	if !seen(t, f, "shopee:1") || seen(t, f, "shopee:2") {
		t.Fatal("want exactly the marked key seen")
	}
}

// TestSharedAcrossInstances: a key one filter marked is seen by another
// with an empty memory tier (another gateway instance, or this one after a
// restart), and then from its memory.
func TestSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	for _, tr := range tiers() {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			open := tr.store(t)
			a := newFilter(t, dedup.Config{Store: open()})
			b := newFilter(t, dedup.Config{Store: open()})
			key := "lazada:h:" + rand.Text()
			if seen(t, b, key) {
				t.Fatal("seen before any mark")
			}
			if err := a.Mark(context.Background(), key); err != nil {
				t.Fatal(err)
			}
			if !seen(t, b, key) {
				t.Fatal("a key marked by one instance is not seen by another")
			}
			// Marking again (a second instance that appended the same push
			// within the broker's window) is not an error.
			if err := b.Mark(context.Background(), key); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestExpiry: after the TTL a key is forgotten by both tiers.
func TestExpiry(t *testing.T) {
	t.Parallel()
	for _, tr := range tiers() {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			open := tr.store(t)
			a := newFilter(t, dedup.Config{Store: open(), TTL: time.Second})
			b := newFilter(t, dedup.Config{Store: open(), TTL: time.Second})
			if err := a.Mark(context.Background(), "tiktok:1"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 15*time.Second, "key forgotten by both tiers", func() bool {
				return !seen(t, a, "tiktok:1") && !seen(t, b, "tiktok:1")
			})
		})
	}
}

// TestSharedTierDownFallsBackToMemory: with the shared tier gone, keys
// marked before are still seen from memory, new keys are marked in memory,
// and every failure is reported (never a false "seen").
func TestSharedTierDownFallsBackToMemory(t *testing.T) {
	t.Parallel()
	e, err := jetstream.StartEmbedded(jetstream.EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	js, _ := natsjs.New(e.Conn)
	kv, err := natskv.New(context.Background(), js, natskv.Config{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := cache.Guard(kv, cache.GuardConfig{Name: "nats_kv", Timeout: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f := newFilter(t, dedup.Config{Store: g})
	ctx := context.Background()
	if err := f.Mark(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	e.Server.Shutdown()
	if !seen(t, f, "before") {
		t.Fatal("a key marked before the outage is not seen from memory")
	}
	if ok, err := f.Seen(ctx, "during"); ok || err == nil {
		t.Fatalf("unknown key during the outage: seen=%v err=%v, want false and an error", ok, err)
	}
	if err := f.Mark(ctx, "during"); err == nil {
		t.Fatal("Mark during the outage reported no error")
	}
	if !seen(t, f, "during") {
		t.Fatal("a key marked during the outage is not kept in memory")
	}
	if g.Available() {
		t.Fatal("guard reports the store available")
	}
	if _, err := f.Seen(ctx, "other"); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("within the cooldown: %v, want ErrUnavailable (fail fast)", err)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	if _, err := dedup.New(dedup.Config{TTL: 500 * time.Millisecond}); err == nil {
		t.Fatal("a TTL under 1s was accepted")
	}
}

// BenchmarkFilter is the filter's cost per push on each tier: a duplicate
// answered from memory; a new push (look-up miss, then mark after the
// append); a duplicate found only in the shared tier (another instance's
// key). The KV tier runs on an embedded server with fsync per write, as
// orderlane runs by default.
func BenchmarkFilter(b *testing.B) {
	ctx := context.Background()
	b.Run("memory-hit", func(b *testing.B) {
		f, _ := dedup.New(dedup.Config{})
		defer f.Close()
		_ = f.Mark(ctx, "shopee:64ca21a145e29bda3a6e31203c800e00")
		b.ReportAllocs()
		for b.Loop() {
			if ok, _ := f.Seen(ctx, "shopee:64ca21a145e29bda3a6e31203c800e00"); !ok {
				b.Fatal("not seen")
			}
		}
	})
	stores := map[string]func(b *testing.B) cache.Store{
		"kv": func(b *testing.B) cache.Store {
			e, err := jetstream.StartEmbedded(jetstream.EmbeddedConfig{StoreDir: b.TempDir(), SyncAlways: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(e.Close)
			js, _ := natsjs.New(e.Conn)
			s, err := natskv.New(ctx, js, natskv.Config{})
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		"redis": func(b *testing.B) cache.Store {
			url := os.Getenv("ORDERLANE_TEST_REDIS_URL")
			if url == "" {
				b.Skip("ORDERLANE_TEST_REDIS_URL is not set")
			}
			rdb, err := redisstore.NewClient(redisstore.ClientConfig{URL: url})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { rdb.Close() })
			prefix := "orderlane-bench:" + rand.Text() + ":"
			b.Cleanup(func() {
				keys, _ := rdb.Keys(ctx, prefix+"*").Result()
				for len(keys) > 0 {
					n := min(len(keys), 1000)
					rdb.Del(ctx, keys[:n]...)
					keys = keys[n:]
				}
			})
			return redisstore.New(rdb, prefix)
		},
	}
	for _, name := range []string{"kv", "redis"} {
		b.Run(name+"/new-push", func(b *testing.B) {
			f, _ := dedup.New(dedup.Config{Store: stores[name](b)})
			defer f.Close()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				key := fmt.Sprintf("shopee:new-%d", i)
				i++
				if ok, err := f.Seen(ctx, key); ok || err != nil {
					b.Fatal(ok, err)
				}
				if err := f.Mark(ctx, key); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/shared-hit", func(b *testing.B) {
			s := stores[name](b)
			other, _ := dedup.New(dedup.Config{Store: s})
			defer other.Close()
			const keys = 2000
			for i := range keys {
				if err := other.Mark(ctx, fmt.Sprintf("shopee:old-%d", i)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := 0
			var f *dedup.Filter
			for b.Loop() {
				if i%keys == 0 {
					// A fresh instance: its memory tier has none of them.
					b.StopTimer()
					if f != nil {
						f.Close()
					}
					f, _ = dedup.New(dedup.Config{Store: s})
					b.StartTimer()
				}
				if ok, err := f.Seen(ctx, fmt.Sprintf("shopee:old-%d", i%keys)); !ok || err != nil {
					b.Fatal(ok, err)
				}
				i++
			}
			if f != nil {
				f.Close()
			}
		})
	}
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
