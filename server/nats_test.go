package server_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/internal/natstest"
	"github.com/orderlane/orderlane/server"
	"github.com/orderlane/orderlane/simulate"
)

// startNATSCluster starts a real 3-node JetStream cluster and returns its
// client URLs, comma separated.
func startNATSCluster(t *testing.T) string { return natstest.Start(t, 3).URL() }

// TestSimulatedSaleOnNATSCluster: with ORDERLANE_NATS_URL set, orderlane
// runs on an existing 3-node JetStream cluster (R3 streams and bucket, no
// embedded server, no JetStream files in the data dir) and every order of
// the simulated sale ends in its right state.
func TestSimulatedSaleOnNATSCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node NATS cluster")
	}
	t.Parallel()
	urls := startNATSCluster(t)
	cfg := config.Config{
		HTTPAddr: "127.0.0.1:0",
		DataDir:  t.TempDir(),
		APIToken: "test-token",
		NATS:     config.NATS{URL: urls},
		Shopee:   config.Shopee{PushKey: "k1", CallbackURL: "https://seller.example/webhooks/shopee"},
		Lazada:   config.Lazada{AppKey: "123456", AppSecret: "s2"},
		TikTok:   config.TikTok{AppKey: "29a39d", AppSecret: "s3"},
	}.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.NATS.Replicas != 3 {
		t.Fatalf("replicas default with a URL: %d, want 3", cfg.NATS.Replicas)
	}
	ctx := context.Background()
	var (
		srv *server.Server
		err error
	)
	// A cluster that has just elected its leader may not place R3 streams
	// at once: start is retried for a while, as an orchestrator would.
	for deadline := time.Now().Add(30 * time.Second); ; {
		srv, err = server.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	rep, err := simulate.Run(ctx, simulate.Options{
		BaseURL: "http://" + srv.Addr(), APIToken: srv.Token,
		Shopee: cfg.Shopee, Lazada: cfg.Lazada, TikTok: cfg.TikTok,
		Orders: 60, Concurrency: 8, DuplicateRatio: 0.2, ShuffleRatio: 0.5,
		ApplyTimeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.OrdersCorrect != 60 || rep.DuplicatesSent == 0 {
		t.Fatalf("simulation: %+v", rep)
	}
	nc, err := nats.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ORDERLANE_EVENTS", "ORDERLANE_DEADLETTERS", "KV_orderlane"} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if r := st.CachedInfo().Config.Replicas; r != 3 {
			t.Fatalf("stream %s has %d replicas, want 3", name, r)
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "jetstream")); !os.IsNotExist(err) {
		t.Fatalf("an embedded JetStream store was created beside the cluster: %v", err)
	}
}
