package cache_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderlane/orderlane/bus/jetstream"
	"github.com/orderlane/orderlane/cache"
	"github.com/orderlane/orderlane/cache/natskv"
	"github.com/orderlane/orderlane/cache/redisstore"
)

type shop struct {
	ID     string `json:"id"`
	Region string `json:"region"`
}

// source is the "external API" behind a cache: it counts loads.
type source struct {
	calls atomic.Int64
	mu    sync.Mutex
	shops map[string]shop
	err   error
}

func (s *source) load(id string) func(context.Context) (shop, error) {
	return func(context.Context) (shop, error) {
		s.calls.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.err != nil {
			return shop{}, s.err
		}
		v, ok := s.shops[id]
		if !ok {
			return shop{}, fmt.Errorf("shop %s: %w", id, cache.ErrNotFound)
		}
		return v, nil
	}
}

func (s *source) set(id string, v shop) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shops[id] = v
}

func newSource() *source {
	return &source{shops: map[string]shop{"1": {ID: "1", Region: "SG"}}}
}

func newCache(t *testing.T, cfg cache.Config) *cache.Cache[shop] {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "shop"
	}
	c, err := cache.New[shop](cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func mustGet(t *testing.T, c *cache.Cache[shop], src *source, id string) shop {
	t.Helper()
	v, err := c.Get(context.Background(), id, src.load(id))
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	return v
}

func TestLoadsOncePerKey(t *testing.T) {
	t.Parallel()
	c := newCache(t, cache.Config{})
	src := newSource()
	release := make(chan struct{})
	load := func(ctx context.Context) (shop, error) {
		<-release
		return src.load("1")(ctx)
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if v, err := c.Get(context.Background(), "1", load); err != nil || v.Region != "SG" {
				t.Errorf("Get: %+v %v", v, err)
			}
		})
	}
	close(release)
	wg.Wait()
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("%d loads for 16 concurrent Gets of one key, want 1", n)
	}
	mustGet(t, c, src, "1")
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("a cached key was loaded again (%d loads)", n)
	}
}

// TestWaiterHonoursItsContext: a caller whose context ends stops waiting;
// the load goes on for the others and is cached.
func TestWaiterHonoursItsContext(t *testing.T) {
	t.Parallel()
	c := newCache(t, cache.Config{})
	src := newSource()
	started, release := make(chan struct{}), make(chan struct{})
	load := func(ctx context.Context) (shop, error) {
		close(started)
		<-release
		return src.load("1")(ctx)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := c.Get(ctx, "1", load)
		done <- err
	}()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled context: %v, want context.Canceled", err)
	}
	close(release)
	waitFor(t, 5*time.Second, "the abandoned load is cached", func() bool {
		v, err := c.Get(context.Background(), "1", func(context.Context) (shop, error) {
			return shop{}, errors.New("loaded again")
		})
		return err == nil && v.Region == "SG"
	})
}

func TestNegativeCaching(t *testing.T) {
	t.Parallel()
	c := newCache(t, cache.Config{NegativeTTL: 100 * time.Millisecond})
	src := newSource()
	for range 3 {
		if _, err := c.Get(context.Background(), "2", src.load("2")); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("missing shop: %v, want ErrNotFound", err)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("%d loads of a missing key, want 1 (negative caching)", n)
	}
	src.set("2", shop{ID: "2", Region: "MY"})
	waitFor(t, 5*time.Second, "negative entry expires", func() bool {
		v, err := c.Get(context.Background(), "2", src.load("2"))
		return err == nil && v.Region == "MY"
	})
}

func TestLoadErrorNotCached(t *testing.T) {
	t.Parallel()
	c := newCache(t, cache.Config{})
	src := newSource()
	src.err = errors.New("api down")
	if _, err := c.Get(context.Background(), "1", src.load("1")); err == nil || errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("load error: %v", err)
	}
	src.err = nil
	if v := mustGet(t, c, src, "1"); v.Region != "SG" || src.calls.Load() != 2 {
		t.Fatalf("after a failed load: %+v after %d loads, want a fresh load", v, src.calls.Load())
	}
}

func TestInvalidate(t *testing.T) {
	t.Parallel()
	c := newCache(t, cache.Config{})
	src := newSource()
	mustGet(t, c, src, "1")
	src.set("1", shop{ID: "1", Region: "TH"})
	if v := mustGet(t, c, src, "1"); v.Region != "SG" {
		t.Fatalf("served %+v before invalidation, want the cached SG", v)
	}
	if err := c.Invalidate(context.Background(), "1"); err != nil {
		t.Fatal(err)
	}
	if v := mustGet(t, c, src, "1"); v.Region != "TH" {
		t.Fatalf("served %+v after invalidation, want TH", v)
	}
}

// TestInvalidateDuringLoad: a load that started before Invalidate answers
// its callers but is not kept: the next Get loads again.
func TestInvalidateDuringLoad(t *testing.T) {
	t.Parallel()
	c := newCache(t, cache.Config{})
	src := newSource()
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Get(context.Background(), "1", func(ctx context.Context) (shop, error) {
			close(started)
			<-release
			return src.load("1")(ctx)
		})
	}()
	<-started
	if err := c.Invalidate(context.Background(), "1"); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-done
	mustGet(t, c, src, "1")
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("%d loads, want 2: the load overtaken by Invalidate must not be cached", n)
	}
}

type tier struct {
	name  string
	store func(t *testing.T) func() cache.Store
}

func tiers() []tier {
	return []tier{
		{"kv", func(t *testing.T) func() cache.Store {
			e, err := jetstream.StartEmbedded(jetstream.EmbeddedConfig{StoreDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(e.Close)
			js, _ := natsjs.New(e.Conn)
			return func() cache.Store {
				s, err := natskv.New(context.Background(), js, natskv.Config{})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
		}},
		{"redis", func(t *testing.T) func() cache.Store {
			url := os.Getenv("ORDERLANE_TEST_REDIS_URL")
			if url == "" {
				t.Skip("ORDERLANE_TEST_REDIS_URL is not set: no Redis to test against (.ci/run sets it)")
			}
			rdb, err := redisstore.NewClient(redisstore.ClientConfig{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { rdb.Close() })
			prefix := "orderlane-test:" + rand.Text() + ":"
			return func() cache.Store { return redisstore.New(rdb, prefix) }
		}},
	}
}

// TestSharedTier: a value one instance loaded is served to another from
// the shared tier, not loaded again; so is a "not found"; Invalidate
// removes it for every instance's next miss. Hits and misses are counted
// per tier.
func TestSharedTier(t *testing.T) {
	t.Parallel()
	for _, tr := range tiers() {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			open := tr.store(t)
			reg := prometheus.NewRegistry()
			a := newCache(t, cache.Config{Store: open(), Registerer: reg})
			b := newCache(t, cache.Config{Store: open(), Name: "shop_b", Registerer: reg})
			// Same key space: b reads what a wrote under the same name.
			b2 := newCache(t, cache.Config{Store: open(), Registerer: prometheus.NewRegistry()})
			src := newSource()
			mustGet(t, a, src, "1")
			if _, err := a.Get(context.Background(), "2", src.load("2")); !errors.Is(err, cache.ErrNotFound) {
				t.Fatal(err)
			}
			if v := mustGet(t, b2, src, "1"); v.Region != "SG" {
				t.Fatalf("other instance: %+v", v)
			}
			if _, err := b2.Get(context.Background(), "2", src.load("2")); !errors.Is(err, cache.ErrNotFound) {
				t.Fatalf("other instance, missing shop: %v", err)
			}
			if n := src.calls.Load(); n != 2 {
				t.Fatalf("%d loads, want 2: the other instance must read the shared tier", n)
			}
			mustGet(t, b, src, "1") // another cache name: its own keys
			if n := src.calls.Load(); n != 3 {
				t.Fatalf("%d loads, want 3: caches of different names share no keys", n)
			}
			mustGet(t, a, src, "1")
			hits := func(c, tier string) float64 {
				return metric(t, reg, "orderlane_cache_hits_total", map[string]string{"cache": c, "tier": tier})
			}
			if hits("shop", "memory") != 1 || hits("shop_b", "memory") != 0 {
				t.Fatalf("memory hits: shop %v shop_b %v", hits("shop", "memory"), hits("shop_b", "memory"))
			}
			src.set("1", shop{ID: "1", Region: "VN"})
			if err := a.Invalidate(context.Background(), "1"); err != nil {
				t.Fatal(err)
			}
			c := newCache(t, cache.Config{Store: open()})
			if v := mustGet(t, c, src, "1"); v.Region != "VN" {
				t.Fatalf("after Invalidate a fresh instance got %+v, want VN", v)
			}
		})
	}
}

// flaky is a Store whose backend can be switched off, to drive Guard.
type flaky struct {
	cache.Store
	down atomic.Bool
}

var errDown = errors.New("connection refused")

func (f *flaky) Get(ctx context.Context, key string) ([]byte, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Store.Get(ctx, key)
}

func (f *flaky) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if f.down.Load() {
		return errDown
	}
	return f.Store.Set(ctx, key, v, ttl)
}

// TestGuardDegradesAndRecovers: with the shared tier failing, Get still
// answers (from memory or the loader), errors are counted, calls within
// the cooldown are skipped, and the tier is used again once it answers.
func TestGuardDegradesAndRecovers(t *testing.T) {
	t.Parallel()
	open := tiers()[0].store(t)
	f := &flaky{Store: open()}
	reg := prometheus.NewRegistry()
	g, err := cache.Guard(f, cache.GuardConfig{
		Name: "nats_kv", Cooldown: 50 * time.Millisecond, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := newCache(t, cache.Config{Store: g})
	src := newSource()
	f.down.Store(true)
	if v := mustGet(t, c, src, "1"); v.Region != "SG" {
		t.Fatalf("with the shared tier down: %+v", v)
	}
	if g.Available() {
		t.Fatal("guard says available after an error")
	}
	if n := metric(t, reg, "orderlane_shared_store_errors_total", map[string]string{"store": "nats_kv", "op": "get"}); n != 1 {
		t.Fatalf("errors counted: %v, want 1", n)
	}
	// Within the cooldown the store is not asked.
	if _, err := g.Get(context.Background(), "x"); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("within the cooldown: %v, want ErrUnavailable", err)
	}
	f.down.Store(false)
	waitFor(t, 5*time.Second, "guard recovers", func() bool {
		_, err := g.Get(context.Background(), "x")
		return errors.Is(err, cache.ErrNotFound) && g.Available()
	})
	if up := metric(t, reg, "orderlane_shared_store_up", nil); up != 1 {
		t.Fatalf("orderlane_shared_store_up = %v after recovery", up)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "has space", "dot.ted"} {
		if _, err := cache.New[shop](cache.Config{Name: name}); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	cfg := cache.Config{Name: "x", TTL: 10 * time.Second}.WithDefaults()
	if cfg.MemoryTTL != 10*time.Second || cfg.NegativeTTL != 30*time.Second || cfg.MaxEntries != 10_000 {
		t.Fatalf("defaults: %+v", cfg)
	}
}

// metric returns the value of the counter or gauge name with labels (0
// when absent).
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue metrics
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
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
