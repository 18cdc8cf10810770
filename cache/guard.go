package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrUnavailable is returned by a Guarded store while it fails fast after
// an error of its store (see GuardConfig.Cooldown).
var ErrUnavailable = errors.New("cache: shared store unavailable")

// GuardConfig configures Guard.
type GuardConfig struct {
	// Name labels the store in metrics and logs ("redis", "nats_kv").
	// Required.
	Name string
	// Timeout bounds each operation. Defaults to 250ms: a healthy shared
	// store answers in well under a millisecond, and the push waits for it.
	Timeout time.Duration
	// Cooldown is how long calls fail fast with ErrUnavailable after an
	// error, so a store that hangs costs one Timeout, not one per push.
	// The first call after it tries the store again. Defaults to 1s.
	Cooldown time.Duration
	// LogEvery is the shortest time between two error logs; the errors in
	// between are counted in the next one. Defaults to 10s.
	LogEvery time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives orderlane_shared_store_errors_total{store,op},
	// orderlane_shared_store_skipped_total{store,op} and
	// orderlane_shared_store_up{store}; nil registers none.
	Registerer prometheus.Registerer
}

// Guarded is a Store that bounds, counts and logs its store's errors and
// fails fast for a cooldown after one, so that callers (the idempotency
// filter, caches) degrade to their in-process tier instead of waiting.
// ErrNotFound is an answer, not an error.
type Guarded struct {
	s         Store
	cfg       GuardConfig
	log       *slog.Logger
	downUntil atomic.Int64 // unix nanos; 0 while the store answers
	lastLog   atomic.Int64 // unix nanos of the last error log
	unlogged  atomic.Int64 // errors since the last error log
	errs      *prometheus.CounterVec
	skipped   *prometheus.CounterVec
	up        prometheus.Gauge
}

// Guard wraps s.
func Guard(s Store, cfg GuardConfig) (*Guarded, error) {
	if cfg.Name == "" {
		return nil, errors.New("cache: GuardConfig.Name is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 250 * time.Millisecond
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = time.Second
	}
	if cfg.LogEvery <= 0 {
		cfg.LogEvery = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	labels := prometheus.Labels{"store": cfg.Name}
	errs, err := register(cfg.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orderlane_shared_store_errors_total",
		Help: "Shared-tier (Redis or JetStream KV) operations that failed; callers fell back to their in-process tier.",
	}, []string{"store", "op"}))
	if err != nil {
		return nil, err
	}
	skipped, err := register(cfg.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orderlane_shared_store_skipped_total",
		Help: "Shared-tier operations not tried because the store failed within its cooldown.",
	}, []string{"store", "op"}))
	if err != nil {
		return nil, err
	}
	up, err := register(cfg.Registerer, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "orderlane_shared_store_up",
		Help: "1 while the shared tier answers, 0 after an error until it answers again.",
	}, []string{"store"}))
	if err != nil {
		return nil, err
	}
	g := &Guarded{
		s: s, cfg: cfg, log: cfg.Logger,
		errs:    errs.MustCurryWith(labels),
		skipped: skipped.MustCurryWith(labels),
		up:      up.With(labels),
	}
	g.up.Set(1)
	return g, nil
}

// Get implements Store.
func (g *Guarded) Get(ctx context.Context, key string) (v []byte, err error) {
	err = g.do(ctx, "get", func(ctx context.Context) error {
		v, err = g.s.Get(ctx, key)
		return err
	})
	return v, err
}

// Set implements Store.
func (g *Guarded) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return g.do(ctx, "set", func(ctx context.Context) error {
		return g.s.Set(ctx, key, value, ttl)
	})
}

// Add implements Store.
func (g *Guarded) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (added bool, err error) {
	err = g.do(ctx, "add", func(ctx context.Context) error {
		added, err = g.s.Add(ctx, key, value, ttl)
		return err
	})
	return added, err
}

// Delete implements Store.
func (g *Guarded) Delete(ctx context.Context, key string) error {
	return g.do(ctx, "delete", func(ctx context.Context) error {
		return g.s.Delete(ctx, key)
	})
}

// Available reports whether the store answered its last call (or has not
// been called yet).
func (g *Guarded) Available() bool { return g.downUntil.Load() == 0 }

func (g *Guarded) do(ctx context.Context, op string, fn func(context.Context) error) error {
	now := time.Now()
	if until := g.downUntil.Load(); until != 0 && now.UnixNano() < until {
		g.skipped.WithLabelValues(op).Inc()
		return ErrUnavailable
	}
	opCtx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	err := fn(opCtx)
	cancel()
	if err == nil || errors.Is(err, ErrNotFound) {
		if g.downUntil.Load() != 0 && g.downUntil.Swap(0) != 0 {
			g.up.Set(1)
			g.log.Info("shared store answers again", "store", g.cfg.Name)
		}
		return err
	}
	if ctx.Err() != nil {
		// The caller gave up (client gone, shutdown): not the store's fault.
		return err
	}
	g.errs.WithLabelValues(op).Inc()
	g.downUntil.Store(now.Add(g.cfg.Cooldown).UnixNano())
	g.up.Set(0)
	n := g.unlogged.Add(1)
	if last := g.lastLog.Load(); now.UnixNano()-last >= int64(g.cfg.LogEvery) && g.lastLog.CompareAndSwap(last, now.UnixNano()) {
		g.unlogged.Add(-n)
		g.log.Warn("shared store failed; falling back to the in-process tier and the broker's dedup",
			"store", g.cfg.Name, "op", op, "err", err, "errors", n, "cooldown", g.cfg.Cooldown)
	}
	return fmt.Errorf("cache: %s %s: %w", g.cfg.Name, op, err)
}

// register registers c on r, or returns the collector already registered
// under the same name (several caches share one metric family).
func register[C prometheus.Collector](r prometheus.Registerer, c C) (C, error) {
	if r == nil {
		return c, nil
	}
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("cache: register metrics: %w", err)
	}
	return c, nil
}
