// Package server assembles orderlane from its parts on the embedded default:
// an in-process NATS JetStream server for the topic, SQLite for orders, the
// gateway and the API on one HTTP listener.
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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/orderlane/orderlane/api"
	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/bus/jetstream"
	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/gateway"
	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/metrics"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/store/sqlite"
	"github.com/orderlane/orderlane/subscriber"
)

// Server is a running orderlane.
type Server struct {
	cfg      config.Config
	log      *slog.Logger
	nats     *jetstream.Embedded
	bus      *jetstream.Bus
	store    *sqlite.Store
	subs     []bus.Subscription
	http     *http.Server
	listener net.Listener
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
	if s.Token, err = apiToken(cfg, log); err != nil {
		return nil, err
	}
	interval, _ := cfg.FsyncInterval()
	if s.nats, err = jetstream.StartEmbedded(jetstream.EmbeddedConfig{
		StoreDir:     filepath.Join(cfg.DataDir, "jetstream"),
		SyncAlways:   interval == 0,
		SyncInterval: interval,
		ListenAddr:   cfg.NATSListen,
		Logger:       log,
	}); err != nil {
		return nil, err
	}
	if s.bus, err = jetstream.New(ctx, s.nats.Conn, jetstream.Config{
		PublishTimeout: cfg.PublishTimeout,
		Logger:         log,
	}); err != nil {
		return nil, err
	}
	sync := "FULL"
	if interval != 0 {
		sync = "NORMAL"
	}
	if s.store, err = sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(cfg.DataDir, "orderlane.db"), Synchronous: sync}); err != nil {
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	subCfg := func(name, filter string) bus.SubscriptionConfig {
		return bus.SubscriptionConfig{Name: name, Filter: filter, Concurrency: cfg.Workers, MaxAttempts: cfg.MaxAttempts}
	}
	orders := subscriber.NewOrders(s.store, log, reg)
	for _, sub := range []struct {
		cfg bus.SubscriptionConfig
		h   bus.Handler
	}{
		{subCfg(subscriber.OrdersName, subscriber.OrdersFilter), orders.Handle},
		{subCfg(subscriber.AuditName, subscriber.AuditFilter), subscriber.NewAudit(s.store).Handle},
	} {
		running, err := s.bus.Subscribe(ctx, sub.cfg, sub.h)
		if err != nil {
			return nil, err
		}
		s.subs = append(s.subs, running)
	}
	reg.MustRegister(metrics.NewSubscriptions(s.subs...))

	gw := gateway.New(gateway.Config{
		MaxBodyBytes:   cfg.MaxBodyBytes,
		PublishTimeout: cfg.PublishTimeout,
		Logger:         log,
		Registerer:     reg,
	}, s.bus, Receivers(cfg, log)...)
	a, err := api.New(api.Config{
		Token:   s.Token,
		Ready:   s.ready,
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Logger:  log,
	}, s.store)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/webhooks/", gw)
	mux.Handle("/", a)
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if s.listener, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("server: listen: %w", err)
	}
	go func() {
		if err := s.http.Serve(s.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	log.Info("orderlane serving", "addr", s.listener.Addr().String(), "data_dir", cfg.DataDir, "fsync", cfg.Fsync)
	return s, nil
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

// ready is /readyz: the stream and the store must both answer.
func (s *Server) ready(ctx context.Context) error {
	if err := s.bus.Ping(ctx); err != nil {
		return err
	}
	return s.store.Ping(ctx)
}

// Shutdown stops in order: stop accepting HTTP and finish requests in
// flight (their appends complete), stop the subscriptions after the
// handlers in flight, close the store, then drain and stop NATS.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.close(ctx)
}

func (s *Server) close(ctx context.Context) error {
	var errs []error
	if s.http != nil {
		errs = append(errs, s.http.Shutdown(ctx))
	} else if s.listener != nil {
		errs = append(errs, s.listener.Close())
	}
	for _, sub := range s.subs {
		errs = append(errs, sub.Stop(ctx))
	}
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	if s.nats != nil {
		s.nats.Close()
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
	if b, err := os.ReadFile(path); err == nil {
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
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("server: store API token: %w", err)
	}
	// Printed once, to the terminal, never to the log.
	fmt.Fprintf(os.Stderr, "\nGenerated API token (shown once; stored in %s):\n\n  %s\n\n", path, tok)
	return tok, nil
}
