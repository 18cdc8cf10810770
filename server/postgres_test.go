package server_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/internal/pgtest"
	"github.com/orderlane/orderlane/server"
	"github.com/orderlane/orderlane/simulate"
)

// TestSimulatedSaleOnPostgres: with ORDERLANE_DATABASE_URL set, the same
// pipeline keeps its orders in PostgreSQL (a schema of its own, migrated
// at start), and every order ends in its right state.
func TestSimulatedSaleOnPostgres(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t, "orderlane_server")
	ctx := context.Background()
	admin := db.Connect(t)
	schema := db.Name

	cfg := config.Config{
		HTTPAddr: "127.0.0.1:0",
		DataDir:  t.TempDir(),
		APIToken: "test-token",
		Database: config.Database{URL: db.URL},
		Shopee:   config.Shopee{PushKey: "k1", CallbackURL: "https://seller.example/webhooks/shopee"},
		Lazada:   config.Lazada{AppKey: "123456", AppSecret: "s2"},
		TikTok:   config.TikTok{AppKey: "29a39d", AppSecret: "s3"},
	}.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
	defer stop()
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
	stop()
	var orders, audit int
	if err := admin.QueryRow(ctx, "SELECT (SELECT count(*) FROM "+schema+".orders), (SELECT count(*) FROM "+schema+".audit_log)").Scan(&orders, &audit); err != nil {
		t.Fatal(err)
	}
	if orders != 60 || audit == 0 {
		t.Fatalf("in PostgreSQL: %d orders, %d audit entries; want 60 and some", orders, audit)
	}
	if _, err := os.Stat(cfg.DataDir + "/orderlane.db"); !os.IsNotExist(err) {
		t.Fatalf("an SQLite file was created beside PostgreSQL: %v", err)
	}
}
