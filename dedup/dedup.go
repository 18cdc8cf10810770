// Package dedup is the gateway's idempotency filter: it remembers the
// idempotency keys of pushes that were durably appended, for as long as
// the marketplaces retry (72 hours by default), so that a resent push is
// answered at once without touching the topic.
//
// Two tiers: an in-process one (bounded, with TTL), checked first, and the
// shared cache.Store (JetStream KV on the embedded default, Redis at
// scale), which every gateway instance sees and which survives restarts.
// A shared-tier failure degrades the filter to its in-process tier (the
// guarded store counts and logs it); the broker's own dedup window stays
// the atomic guard behind it, and the order store the final one.
//
// The filter only ever shortcuts a push that was appended before: a key
// is marked after its append succeeded, never before, so a failed append
// never hides the marketplace's retry.
package dedup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderlane/orderlane/cache"
)

// Config configures a Filter.
type Config struct {
	// TTL is how long a key is remembered, in both tiers: the longest
	// marketplace retry horizon (Shopee's lost-push API, 3 days). At
	// least 1s. Defaults to 72h.
	TTL time.Duration
	// MaxEntries bounds the in-process tier: about 110 bytes an entry
	// (measured) plus the key's bytes, so about 16 MB for 100,000 Shopee
	// keys. Defaults to 100,000.
	MaxEntries int
	// Store is the shared tier, usually a cache.Guarded one; nil keeps
	// the filter in-process only.
	Store cache.Store
	// Registerer receives orderlane_dedup_lookups_total{result}; nil
	// registers none.
	Registerer prometheus.Registerer
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.TTL <= 0 {
		c.TTL = 72 * time.Hour
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = 100_000
	}
	return c
}

// Validate names the first bad field.
func (c Config) Validate() error {
	if c.TTL < time.Second {
		return fmt.Errorf("dedup: TTL %s: at least 1s", c.TTL)
	}
	return nil
}

// Filter is the two-tier idempotency filter. Safe for concurrent use.
type Filter struct {
	ttl   time.Duration
	mem   *otter.Cache[string, struct{}]
	store cache.Store
	// orderlane_dedup_lookups_total by result, resolved once.
	memoryHits, sharedHits, misses, sharedErrors prometheus.Counter
}

// Lookup results counted in orderlane_dedup_lookups_total{result}.
const (
	ResultMemoryHit = "memory_hit"
	ResultSharedHit = "shared_hit"
	ResultMiss      = "miss"
	// ResultSharedError: not in memory, and the shared tier could not
	// answer (or was skipped during its cooldown).
	ResultSharedError = "shared_error"
)

// New returns an empty filter; Close releases it.
func New(cfg Config) (*Filter, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	mem, err := otter.New(&otter.Options[string, struct{}]{
		MaximumSize:      cfg.MaxEntries,
		ExpiryCalculator: otter.ExpiryWriting[string, struct{}](cfg.TTL),
	})
	if err != nil {
		return nil, fmt.Errorf("dedup: %w", err)
	}
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orderlane_dedup_lookups_total",
		Help: "Idempotency-filter look-ups by result: memory_hit, shared_hit (a duplicate), miss, shared_error (memory only).",
	}, []string{"result"})
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(lookups); err != nil {
			return nil, fmt.Errorf("dedup: register metrics: %w", err)
		}
	}
	return &Filter{
		ttl: cfg.TTL, mem: mem, store: cfg.Store,
		memoryHits:   lookups.WithLabelValues(ResultMemoryHit),
		sharedHits:   lookups.WithLabelValues(ResultSharedHit),
		misses:       lookups.WithLabelValues(ResultMiss),
		sharedErrors: lookups.WithLabelValues(ResultSharedError),
	}, nil
}

// Seen reports whether key was marked within the TTL, by this instance
// (in-process tier) or any instance (shared tier). A shared hit is copied
// into the in-process tier. The error is the shared tier's: the answer is
// then the in-process tier's alone (false), and the caller goes on as for
// a new key.
func (f *Filter) Seen(ctx context.Context, key string) (bool, error) {
	if _, ok := f.mem.GetIfPresent(key); ok {
		f.memoryHits.Inc()
		return true, nil
	}
	if f.store == nil {
		f.misses.Inc()
		return false, nil
	}
	_, err := f.store.Get(ctx, sharedKey(key))
	switch {
	case err == nil:
		f.mem.Set(key, struct{}{})
		f.sharedHits.Inc()
		return true, nil
	case errors.Is(err, cache.ErrNotFound):
		f.misses.Inc()
		return false, nil
	}
	f.sharedErrors.Inc()
	return false, err
}

// Mark remembers key for the TTL in both tiers. Call it only after the
// push under key was durably appended. The in-process tier is always
// marked; the error is the shared tier's.
func (f *Filter) Mark(ctx context.Context, key string) error {
	f.mem.Set(key, struct{}{})
	if f.store == nil {
		return nil
	}
	// Add, not Set: a key another instance marked keeps its first TTL.
	_, err := f.store.Add(ctx, sharedKey(key), []byte{'1'}, f.ttl)
	return err
}

// Close stops the in-process tier's maintenance goroutine.
func (f *Filter) Close() { f.mem.StopAllGoroutines() }

// sharedKey namespaces the key in the shared store, which the caches use
// too; the store maps it onto its own key rules (a JetStream KV key
// allows only [-/_=.a-zA-Z0-9], so long or other keys become a fixed-size
// hash there).
func sharedKey(key string) string { return "dedup." + key }
