package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// Config configures a Cache.
type Config struct {
	// Name names the cache in metrics and in shared-tier keys ("shop",
	// "order_detail"). Required; letters, digits and '_'.
	Name string
	// Store is the shared tier, usually a Guarded one; nil keeps the
	// cache in-process only.
	Store Store
	// TTL is how long a loaded value is kept in the shared tier.
	// Defaults to 10m.
	TTL time.Duration
	// MemoryTTL is how long a value is kept in the in-process tier. It
	// bounds how long another instance serves a value after Invalidate.
	// Defaults to 1m, and to TTL when TTL is shorter.
	MemoryTTL time.Duration
	// NegativeTTL is how long a load's ErrNotFound is cached, in both
	// tiers. Defaults to 30s.
	NegativeTTL time.Duration
	// MaxEntries bounds the in-process tier. Defaults to 10,000.
	MaxEntries int
	// LoadTimeout bounds one load, which runs on behalf of every caller
	// waiting for the key and so does not end when the first caller's
	// context does. Defaults to 10s.
	LoadTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives orderlane_cache_hits_total{cache,tier},
	// orderlane_cache_misses_total{cache} and
	// orderlane_cache_load_errors_total{cache}; nil registers none.
	Registerer prometheus.Registerer
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.TTL <= 0 {
		c.TTL = 10 * time.Minute
	}
	if c.MemoryTTL <= 0 {
		c.MemoryTTL = time.Minute
	}
	c.MemoryTTL = min(c.MemoryTTL, c.TTL)
	if c.NegativeTTL <= 0 {
		c.NegativeTTL = 30 * time.Second
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = 10_000
	}
	if c.LoadTimeout <= 0 {
		c.LoadTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate names the first bad field.
func (c Config) Validate() error {
	if c.Name == "" {
		return errors.New("cache: Config.Name is required")
	}
	for _, r := range c.Name {
		if !nameChar(r) {
			return fmt.Errorf("cache: Config.Name %q: only letters, digits and '_'", c.Name)
		}
	}
	return nil
}

func nameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_'
}

// Cache is a two-tier cache-aside cache of values of type V: an in-process
// tier (bounded, with TTL) in front of the shared Store, in front of the
// loader the caller passes. Values cross the shared tier as JSON, so V
// must round-trip through encoding/json.
//
// A miss is loaded once per key however many callers ask at once
// (singleflight); the load's ErrNotFound is cached for NegativeTTL; any
// other load error is returned and not cached. A shared-tier error is a
// miss of that tier, never an error of Get.
type Cache[V any] struct {
	cfg   Config
	log   *slog.Logger
	mem   *otter.Cache[string, entry[V]]
	group singleflight.Group
	// epoch changes on every Invalidate; a load that saw another epoch
	// when it started does not store its (possibly stale) value.
	epoch      atomic.Uint64
	memoryHits prometheus.Counter
	sharedHits prometheus.Counter
	misses     prometheus.Counter
	loadErrors prometheus.Counter
}

type entry[V any] struct {
	v        V
	notFound bool
}

func (e entry[V]) result() (V, error) {
	if e.notFound {
		var zero V
		return zero, ErrNotFound
	}
	return e.v, nil
}

// New returns an empty cache; Close releases it.
func New[V any](cfg Config) (*Cache[V], error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	memTTL, negTTL := cfg.MemoryTTL, min(cfg.NegativeTTL, cfg.MemoryTTL)
	mem, err := otter.New(&otter.Options[string, entry[V]]{
		MaximumSize: cfg.MaxEntries,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, entry[V]]) time.Duration {
			if e.Value.notFound {
				return negTTL
			}
			return memTTL
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	c := &Cache[V]{cfg: cfg, log: cfg.Logger, mem: mem}
	labels := prometheus.Labels{"cache": cfg.Name}
	hits, err := register(cfg.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orderlane_cache_hits_total",
		Help: "Cache look-ups answered without loading, by cache and tier (memory, shared).",
	}, []string{"cache", "tier"}))
	if err != nil {
		return nil, err
	}
	misses, err := register(cfg.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orderlane_cache_misses_total",
		Help: "Loads run because neither tier had the key (concurrent callers of one key share one load).",
	}, []string{"cache"}))
	if err != nil {
		return nil, err
	}
	loadErrors, err := register(cfg.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orderlane_cache_load_errors_total",
		Help: "Loads that failed with an error other than not-found (not cached).",
	}, []string{"cache"}))
	if err != nil {
		return nil, err
	}
	c.memoryHits = hits.With(prometheus.Labels{"cache": cfg.Name, "tier": "memory"})
	c.sharedHits = hits.With(prometheus.Labels{"cache": cfg.Name, "tier": "shared"})
	c.misses = misses.With(labels)
	c.loadErrors = loadErrors.With(labels)
	return c, nil
}

// Get returns the value under key: from the in-process tier, else the
// shared tier, else from load, whose result it then keeps in both. load
// runs once per key at a time; every caller waiting for it gets its
// result, or its own ctx's error if ctx ends first. load reports a missing
// value with ErrNotFound (wrapped or not), which Get returns and caches for
// NegativeTTL.
func (c *Cache[V]) Get(ctx context.Context, key string, load func(ctx context.Context) (V, error)) (V, error) {
	if e, ok := c.mem.GetIfPresent(key); ok {
		c.memoryHits.Inc()
		return e.result()
	}
	ch := c.group.DoChan(key, func() (any, error) { return c.fill(ctx, key, load) })
	select {
	case r := <-ch:
		if r.Err != nil {
			var zero V
			return zero, r.Err
		}
		return r.Val.(entry[V]).result()
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// fill runs once per key at a time: shared tier, then load.
func (c *Cache[V]) fill(ctx context.Context, key string, load func(context.Context) (V, error)) (entry[V], error) {
	epoch := c.epoch.Load()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.LoadTimeout)
	defer cancel()
	skey := c.sharedKey(key)
	if c.cfg.Store != nil {
		if b, err := c.cfg.Store.Get(ctx, skey); err == nil {
			if e, ok := c.decode(b); ok {
				c.sharedHits.Inc()
				if c.epoch.Load() == epoch {
					c.mem.Set(key, e)
				}
				return e, nil
			}
			c.log.Warn("cache: undecodable shared value; loading", "cache", c.cfg.Name)
		}
	}
	c.misses.Inc()
	v, err := load(ctx)
	e, ttl := entry[V]{v: v}, c.cfg.TTL
	switch {
	case errors.Is(err, ErrNotFound):
		e, ttl = entry[V]{notFound: true}, c.cfg.NegativeTTL
	case err != nil:
		c.loadErrors.Inc()
		return entry[V]{}, err
	}
	if c.epoch.Load() != epoch {
		return e, nil // invalidated while loading: answer, but keep nothing
	}
	c.mem.Set(key, e)
	if c.cfg.Store != nil {
		b, err := c.encode(e)
		if err != nil {
			return entry[V]{}, fmt.Errorf("cache %s: encode: %w", c.cfg.Name, err)
		}
		// A shared-tier error leaves the value in-process only; the
		// guarded store has counted and logged it.
		_ = c.cfg.Store.Set(ctx, skey, b, ttl)
	}
	return e, nil
}

// Invalidate drops key from both tiers, and keeps a load in flight from
// storing what it read before. Other instances may serve their in-process
// copy for up to MemoryTTL. The error is the shared tier's; the
// in-process tier is always cleared.
func (c *Cache[V]) Invalidate(ctx context.Context, key string) error {
	c.epoch.Add(1)
	c.mem.Invalidate(key)
	c.group.Forget(key)
	if c.cfg.Store == nil {
		return nil
	}
	return c.cfg.Store.Delete(ctx, c.sharedKey(key))
}

// Close stops the in-process tier's maintenance goroutine.
func (c *Cache[V]) Close() { c.mem.StopAllGoroutines() }

func (c *Cache[V]) sharedKey(key string) string { return "cache." + c.cfg.Name + "." + key }

// Shared-tier encoding: 'v' + JSON for a value, 'n' for not found.
func (c *Cache[V]) encode(e entry[V]) ([]byte, error) {
	if e.notFound {
		return []byte{'n'}, nil
	}
	b, err := json.Marshal(e.v)
	if err != nil {
		return nil, err
	}
	return append([]byte{'v'}, b...), nil
}

func (c *Cache[V]) decode(b []byte) (entry[V], bool) {
	switch {
	case len(b) == 1 && b[0] == 'n':
		return entry[V]{notFound: true}, true
	case len(b) > 1 && b[0] == 'v':
		var e entry[V]
		if err := json.Unmarshal(b[1:], &e.v); err != nil {
			return entry[V]{}, false
		}
		return e, true
	}
	return entry[V]{}, false
}
