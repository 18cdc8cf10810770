package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/server"
	"github.com/orderlane/orderlane/simulate"
)

// TestSimulatedSale runs the whole pipeline in-process (embedded JetStream,
// SQLite, gateway, subscriptions, API) under the simulator: realistic
// lifecycles of all three marketplaces with duplicates and out-of-order
// deliveries, and checks every order ends in its right state.
func TestSimulatedSale(t *testing.T) {
	t.Parallel()
	cfg := config.Config{
		HTTPAddr: "127.0.0.1:0",
		DataDir:  t.TempDir(),
		APIToken: "test-token",
		Shopee:   config.Shopee{PushKey: "k1", CallbackURL: "https://seller.example/webhooks/shopee"},
		Lazada:   config.Lazada{AppKey: "123456", AppSecret: "s2"},
		TikTok:   config.TikTok{AppKey: "29a39d", AppSecret: "s3"},
	}.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.Start(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	rep, err := simulate.Run(context.Background(), simulate.Options{
		BaseURL: "http://" + srv.Addr(), APIToken: srv.Token,
		Shopee: cfg.Shopee, Lazada: cfg.Lazada, TikTok: cfg.TikTok,
		Orders: 90, Concurrency: 8, DuplicateRatio: 0.2, ShuffleRatio: 0.5,
		ApplyTimeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.OrdersCorrect != 90 || rep.DuplicatesSent == 0 {
		t.Fatalf("simulation: %+v", rep)
	}
}

// TestShutdownDrains: during the shutdown grace /readyz says 503 while
// pushes are still acknowledged, so a load balancer can move traffic away
// before the listener closes.
func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	cfg := config.Config{
		HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), APIToken: "test-token",
		ShutdownGrace: time.Second,
		Shopee:        config.Shopee{PushKey: "k1", CallbackURL: "https://seller.example/webhooks/shopee"},
	}.WithDefaults()
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.Addr()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("readyz never turned 503 after Shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	body := `{"msg_id":"drain-1","shop_id":1,"code":3,"timestamp":1765689440,"data":{"ordersn":"DRAIN1","status":"UNPAID","update_time":1765689439}}`
	req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/shopee", strings.NewReader(body))
	req.Header.Set("Authorization", shopee.SignPush(cfg.Shopee.CallbackURL, []byte("k1"), []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("push during the grace: %d, want 200", resp.StatusCode)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
