// Package server assembles orderlane from its parts on the embedded default:
// an in-process NATS JetStream server for the topic and the shared tier of
// the idempotency filter and caches (a key-value bucket; Redis instead when
// ORDERLANE_REDIS_URL is set), SQLite for orders, the gateway and the API on
// one HTTP listener.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/orderlane/orderlane/api"
	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/bus/jetstream"
	"github.com/orderlane/orderlane/cache"
	"github.com/orderlane/orderlane/cache/natskv"
	"github.com/orderlane/orderlane/cache/redisstore"
	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/dedup"
	"github.com/orderlane/orderlane/diskspace"
	"github.com/orderlane/orderlane/gateway"
	"github.com/orderlane/orderlane/internal/atomicfile"
	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/metrics"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/subscriber"
)

// Server is a running orderlane.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	nats    *jetstream.Embedded
	bus     *jetstream.Bus
	store   orderStore
	extNATS *nats.Conn // ORDERLANE_NATS_URL: see broker.go
	shared  *cache.Guarded
	redis   *redis.Client
	dedup   *dedup.Filter
	disk    *diskspace.Monitor
	hold    map[string]bool // subscriptions in strict mode (HoldOnDeadLetter)
	reg     *prometheus.Registry
	subs    []bus.Subscription
	http    *http.Server
	debug   *http.Server // the profiler (DebugAddr), nil when off
	// debugAddr is where the profiler listens.
	debugAddr string
	listener  net.Listener
	draining  atomic.Bool
	sec       security  // see security.go
	shopSide  shopParts // connected shops: see shops.go
	// Token is the API token in force.
	Token string
}

// Start brings every part up and starts serving HTTP. On error, whatever
// was started is shut down again.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger) (_ *Server, err error) {
	s := &Server{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			s.close(context.Background())
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	if err := s.startFailureHandling(); err != nil {
		return nil, err
	}
	if err := s.startDebug(); err != nil {
		return nil, err
	}
	if s.Token, err = apiToken(cfg, log); err != nil {
		return nil, err
	}
	if err := s.setupSecurity(); err != nil {
		return nil, err
	}
	interval, _ := cfg.FsyncInterval()
	if cfg.NATS.URL != "" {
		if err := s.connectNATS(); err != nil {
			return nil, err
		}
	} else if s.nats, err = jetstream.StartEmbedded(jetstream.EmbeddedConfig{
		StoreDir:     filepath.Join(cfg.DataDir, "jetstream"),
		GroupCommit:  cfg.Fsync == config.FsyncAlways,
		SyncAlways:   cfg.Fsync == config.FsyncJetStream,
		SyncInterval: interval,
		ListenAddr:   cfg.NATSListen,
		Logger:       log,
	}); err != nil {
		return nil, err
	}
	wid, err := workerID(cfg)
	if err != nil {
		return nil, err
	}
	if !cfg.Cluster.Has(config.RoleWorker) && cfg.NATS.URL == "" && cfg.NATSListen == "" {
		log.Warn("no worker role on the embedded server without nats_listen: events are appended but nothing applies them",
			"roles", cfg.Cluster.Roles)
	}
	if s.bus, err = jetstream.New(ctx, s.natsConn(), jetstream.Config{
		Syncer:         s.syncer(), // group commit with fsync "always" (embedded)
		Replicas:       cfg.NATS.Replicas,
		Partitions:     cfg.Cluster.Partitions,
		WorkerID:       wid,
		LeaseTTL:       cfg.Cluster.LeaseTTL,
		PublishTimeout: cfg.PublishTimeout,
		Logger:         log,
	}); err != nil {
		return nil, err
	}
	s.reg = prometheus.NewRegistry()
	reg := s.reg
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if s.shared, err = s.openShared(ctx, reg); err != nil {
		return nil, err
	}
	if s.dedup, err = dedup.New(dedup.Config{
		TTL:        cfg.Dedup.TTL,
		MaxEntries: cfg.Dedup.Memory,
		Store:      s.shared,
		Registerer: reg,
	}); err != nil {
		return nil, err
	}
	sync := "NORMAL"
	if cfg.PowerLossSafe() {
		sync = "FULL"
	}
	if s.store, err = openStore(ctx, cfg.Database, cfg.DataDir, sync, log); err != nil {
		return nil, err
	}

	subCfg := func(name, filter string) bus.SubscriptionConfig {
		return bus.SubscriptionConfig{Name: name, Filter: filter, Concurrency: cfg.Workers, MaxAttempts: cfg.MaxAttempts,
			MaxAge: cfg.MaxEventAge, HoldOnDeadLetter: s.hold[name]}
	}
	orders := subscriber.NewOrders(s.store, log, reg)
	subs := []struct {
		cfg bus.SubscriptionConfig
		h   bus.Handler
	}{
		{subCfg(subscriber.OrdersName, subscriber.OrdersFilter), orders.Handle},
		{subCfg(subscriber.AuditName, subscriber.AuditFilter), subscriber.NewAudit(s.store).Handle},
	}
	if !cfg.Cluster.Has(config.RoleWorker) {
		subs = nil
	}
	for _, sub := range subs {
		running, err := s.bus.Subscribe(ctx, sub.cfg, sub.h)
		if err != nil {
			return nil, err
		}
		s.subs = append(s.subs, running)
	}
	if err := s.startShops(ctx); err != nil {
		return nil, err
	}
	if s.syncer() != nil {
		// What start-up created (stream, consumer and bucket metadata,
		// written without fsync) must be durable before the first
		// acknowledgement.
		if err := s.syncer().SyncAll(); err != nil {
			return nil, err
		}
	}
	reg.MustRegister(metrics.NewSubscriptions(s.subs...), metrics.NewDeadLetters(s.bus, 0, log))

	gw := gateway.New(gateway.Config{
		MaxBodyBytes:   cfg.MaxBodyBytes,
		PublishTimeout: cfg.PublishTimeout,
		Logger:         log,
		Registerer:     reg,
		Dedup:          s.dedup,
		Limits:         gatewayLimits(cfg.Throttle),
		ClientIP:       s.sec.resolver.ClientIP,
		Allow:          s.sec.allow,
	}, s.bus, Receivers(cfg, log)...)
	a, err := api.New(api.Config{
		Token:   s.Token,
		Tokens:  s.sec.tokens,
		Ready:   s.ready,
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Logger:  log,
		// Admin: the dead-letter queue and the subscriptions' state.
		DeadLetters:   s.bus,
		Subscriptions: s.subscriptionStats,
		Shops:         s.shopsAPI(),
	}, s.store)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/webhooks/", s.disk.Guard(gw)) // 503 while the disk is nearly full
	mux.Handle("/", s.apiHandler(a))
	log.Info("roles", "roles", cfg.Cluster.Roles, "worker_id", wid, "partitions", cfg.Cluster.Partitions)
	if err := s.serve(ctx, s.roleGate(mux)); err != nil {
		return nil, err
	}
	return s, nil
}

// openShared returns the shared tier, guarded: Redis when configured, else
// a key-value bucket on the embedded JetStream server. A Redis that does
// not answer at start is only a warning: the gateway runs on its
// in-process tier until Redis answers.
func (s *Server) openShared(ctx context.Context, reg prometheus.Registerer) (*cache.Guarded, error) {
	var store cache.Store
	name := "nats_kv"
	if s.cfg.Redis.URL != "" {
		rdb, err := redisstore.NewClient(redisstore.ClientConfig{URL: s.cfg.Redis.URL, TLSCAFile: s.cfg.Redis.TLSCA})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		s.redis = rdb
		store, name = redisstore.New(rdb, ""), "redis"
		pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := rdb.Ping(pingCtx).Err(); err != nil {
			s.log.Warn("redis does not answer; duplicates are filtered in process until it does",
				"addr", rdb.Options().Addr, "err", err)
		}
		cancel()
	} else {
		kv, err := natskv.New(ctx, s.bus.JetStream(), natskv.Config{Replicas: s.cfg.NATS.Replicas})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		reg.MustRegister(kv.Collector())
		store = kv
	}
	return cache.Guard(store, cache.GuardConfig{
		Name:       name,
		Timeout:    s.cfg.SharedTimeout,
		Logger:     s.log,
		Registerer: reg,
	})
}

// CacheConfig is the configuration of a look-up cache called name on this
// server's shared tier, TTLs and metrics: cache.New[V](s.CacheConfig("shop")).
func (s *Server) CacheConfig(name string) cache.Config {
	return cache.Config{
		Name:        name,
		Store:       s.shared,
		TTL:         s.cfg.Cache.TTL,
		MemoryTTL:   s.cfg.Cache.MemoryTTL,
		NegativeTTL: s.cfg.Cache.NegativeTTL,
		MaxEntries:  s.cfg.Cache.Memory,
		Logger:      s.log,
		Registerer:  s.reg,
	}
}

// Addr is the address the HTTP server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Receivers returns the gateway's marketplace endpoints for cfg, warning
// about each marketplace whose settings are incomplete (its pushes get 503).
func Receivers(cfg config.Config, log *slog.Logger) []gateway.Receiver {
	missing := cfg.Missing()
	names := make([]string, 0, len(missing))
	for p := range missing {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		log.Warn("marketplace not configured: its webhook answers 503", "platform", p, "missing", missing[p])
	}
	var keys [][]byte
	for _, k := range []string{cfg.Shopee.PushKey, cfg.Shopee.PartnerKey} {
		if k != "" {
			keys = append(keys, []byte(k))
		}
	}
	return []gateway.Receiver{
		{Platform: order.Shopee, Verify: shopee.NewVerifier(cfg.Shopee.CallbackURL, keys...).Verify, Parse: shopee.Parse, Missing: missing["shopee"]},
		{Platform: order.Lazada, Verify: lazada.NewVerifier(cfg.Lazada.AppKey, []byte(cfg.Lazada.AppSecret)).Verify, Parse: lazada.Parse, Missing: missing["lazada"]},
		{Platform: order.TikTok, Verify: tiktok.NewVerifier(cfg.TikTok.AppKey, []byte(cfg.TikTok.AppSecret)).Verify, Parse: tiktok.Parse, Missing: missing["tiktok"]},
	}
}

// ready is /readyz: the stream and the store must both answer. The shared
// tier is left out on purpose: without it the gateway still answers
// correctly (in-process filter, broker dedup), so taking the instance out
// of service would only lose capacity.
func (s *Server) ready(ctx context.Context) error {
	if s.draining.Load() {
		return errors.New("shutting down")
	}
	if err := s.disk.Err(); err != nil {
		return err
	}
	if err := s.bus.Ping(ctx); err != nil {
		return err
	}
	return s.store.Ping(ctx)
}

// Shutdown stops in order: /readyz turns 503 and, for ShutdownGrace,
// pushes are still taken; then stop accepting HTTP and finish requests in
// flight (their appends complete), stop the subscriptions after the
// handlers in flight, close the store, then drain and stop NATS.
//
// A request a client has sent on a keep-alive connection but the server has
// not started reading yet is not answered (the connection closes): it was
// not stored, and the marketplace retries it.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	if g := s.cfg.ShutdownGrace; g > 0 {
		select {
		case <-time.After(g):
		case <-ctx.Done():
		}
	}
	return s.close(ctx)
}

func (s *Server) close(ctx context.Context) error {
	var errs []error
	if s.debug != nil {
		_ = s.debug.Close()
	}
	if s.http != nil {
		errs = append(errs, s.http.Shutdown(ctx))
	} else if s.listener != nil {
		errs = append(errs, s.listener.Close())
	}
	errs = append(errs, s.closeRedirect(ctx))
	s.stopShops()
	for _, sub := range s.subs {
		errs = append(errs, sub.Stop(ctx))
	}
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	if s.dedup != nil {
		s.dedup.Close()
	}
	if s.redis != nil {
		errs = append(errs, s.redis.Close())
	}
	if s.nats != nil {
		s.nats.Close()
	}
	if s.extNATS != nil {
		s.extNATS.Close()
	}
	if s.disk != nil {
		s.disk.Stop()
	}
	return errors.Join(errs...)
}

// apiToken returns the configured token, or the one stored in the data dir,
// or generates, stores and prints (once) a new one.
func apiToken(cfg config.Config, log *slog.Logger) (string, error) {
	if cfg.APIToken != "" {
		return cfg.APIToken, nil
	}
	path := filepath.Join(cfg.DataDir, "api-token")
	if b, err := os.ReadFile(path); err == nil { // #nosec G304 -- a fixed name in the operator's data dir
		if tok := strings.TrimSpace(string(b)); tok != "" {
			log.Info("API token read from data dir", "path", path)
			return tok, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("server: read API token: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("server: generate API token: %w", err)
	}
	tok := "olt_" + hex.EncodeToString(raw[:])
	// Whole or not at all: a token file torn by a power cut would be read
	// back as a shorter, weaker token.
	if err := atomicfile.Write(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("server: store API token: %w", err)
	}
	// Printed once, to the terminal, never to the log.
	fmt.Fprintf(os.Stderr, "\nGenerated API token (shown once; stored in %s):\n\n  %s\n\n", path, tok)
	return tok, nil
}
