package simulate_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/server"
	"github.com/orderlane/orderlane/simulate"
)

// sandboxSecrets are the push secrets the test server is configured with.
var sandboxSecrets = config.Config{
	Shopee: config.Shopee{PushKey: "sandbox-test-push-key", CallbackURL: "https://seller.example/webhooks/shopee"},
	Lazada: config.Lazada{AppKey: "123456", AppSecret: "sandbox-test-lazada-secret"},
	TikTok: config.TikTok{AppKey: "29a39d", AppSecret: "sandbox-test-tiktok-secret"},
}

// startServer starts orderlane in-process with secrets' push secrets and
// returns its base URL and API token.
func startServer(t *testing.T, secrets config.Config) (string, string) {
	t.Helper()
	cfg := config.Config{
		HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), APIToken: "test-token",
		Shopee: secrets.Shopee, Lazada: secrets.Lazada, TikTok: secrets.TikTok,
	}.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return "http://" + srv.Addr(), srv.Token
}

func sandboxOptions(base, token string, orders int) simulate.SandboxOptions {
	return simulate.SandboxOptions{
		BaseURL: base, APIToken: token,
		Shopee: sandboxSecrets.Shopee, Lazada: sandboxSecrets.Lazada, TikTok: sandboxSecrets.TikTok,
		Orders: orders, Shops: 2, Seed: 7, TimeFactor: 20_000,
		Duplicates: 0.3, Reorder: 0.3, TrackingFirst: 0.5,
		Concurrency: 8, ApplyTimeout: 10 * time.Second,
	}
}

// TestRunSandbox: a sandbox sale of the three marketplaces, signed with the
// server's push secrets and delivered with duplicates, reordering and
// tracking first, ends with every order in its ground-truth status.
func TestRunSandbox(t *testing.T) {
	t.Parallel()
	base, token := startServer(t, sandboxSecrets)
	rep, err := simulate.RunSandbox(context.Background(), sandboxOptions(base, token, 60))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", text.String())
	if !rep.OK() || rep.Orders != 60 || rep.OrdersCorrect != 60 {
		t.Fatalf("want 60 orders correct, got %d of %d; wrong: %+v", rep.OrdersCorrect, rep.Orders, rep.Wrong)
	}
	if len(rep.Delivery.Platforms) != 3 {
		t.Fatalf("delivery platforms: %+v", rep.Delivery.Platforms)
	}
	dups, reordered := 0, 0
	for _, p := range rep.Delivery.Platforms {
		dups += p.Duplicates
		reordered += p.Reordered
		if p.Lost != 0 || p.GaveUp != 0 {
			t.Errorf("%s: lost %d, gave up %d; want none", p.Platform, p.Lost, p.GaveUp)
		}
	}
	if dups == 0 || reordered == 0 {
		t.Errorf("duplicates %d, reordered %d: want both", dups, reordered)
	}
	// Lazada pushes one message per order line: more pushes than changes.
	if lz := rep.Delivery.Platform(order.Lazada); lz.Pushes <= lz.Changes {
		t.Errorf("lazada: %d pushes for %d changes, want one per line", lz.Pushes, lz.Changes)
	}
}

// TestRunSandboxWrongSecrets: a server configured with other secrets
// refuses every push (401), so no order arrives and the run fails.
func TestRunSandboxWrongSecrets(t *testing.T) {
	t.Parallel()
	other := config.Config{
		Shopee: config.Shopee{PushKey: "another-push-key", CallbackURL: sandboxSecrets.Shopee.CallbackURL},
		Lazada: config.Lazada{AppKey: sandboxSecrets.Lazada.AppKey, AppSecret: "another-lazada-secret"},
		TikTok: config.TikTok{AppKey: sandboxSecrets.TikTok.AppKey, AppSecret: "another-tiktok-secret"},
	}
	base, token := startServer(t, other)
	o := sandboxOptions(base, token, 12)
	o.ApplyTimeout = 300 * time.Millisecond
	rep, err := simulate.RunSandbox(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.OrdersCorrect != 0 || rep.OrdersWrong != 12 || len(rep.Wrong) != 12 {
		t.Fatalf("want all 12 orders wrong, got %d correct, %d wrong", rep.OrdersCorrect, rep.OrdersWrong)
	}
	if rep.Wrong[0].Note != "not found" {
		t.Errorf("wrong order note %q, want not found", rep.Wrong[0].Note)
	}
	for _, p := range rep.Delivery.Platforms {
		if p.Failed == 0 || p.Delivered != 0 {
			t.Errorf("%s: failed %d, delivered %d; want every attempt refused", p.Platform, p.Failed, p.Delivered)
		}
	}
}

// TestRunSandboxRefusedToken: a token the query API refuses stops the run
// before anything is delivered.
func TestRunSandboxRefusedToken(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t, sandboxSecrets)
	rep, err := simulate.RunSandbox(context.Background(), sandboxOptions(base, "not-the-token", 12))
	if !errors.Is(err, simulate.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if len(rep.Delivery.Platforms) != 0 {
		t.Errorf("delivered before checking the token: %+v", rep.Delivery.Platforms)
	}
}

// TestRunSandboxBadOptions: bad options are refused by name before
// anything is sent.
func TestRunSandboxBadOptions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		edit func(*simulate.SandboxOptions)
		want string
	}{
		{"no url", func(o *simulate.SandboxOptions) { o.BaseURL = "" }, "BaseURL"},
		{"no token", func(o *simulate.SandboxOptions) { o.APIToken = "" }, "APIToken"},
		{"time factor", func(o *simulate.SandboxOptions) { o.TimeFactor = 2 * simulate.MaxTimeFactor }, "TimeFactor"},
		{"lost", func(o *simulate.SandboxOptions) { o.Lost = 1.5 }, "Lost"},
		{"orders", func(o *simulate.SandboxOptions) { o.Orders = 1 << 30 }, "Orders"},
		{"no secrets", func(o *simulate.SandboxOptions) {
			o.Shopee, o.Lazada, o.TikTok = config.Shopee{PushKey: "k"}, config.Lazada{AppKey: "1"}, config.TikTok{}
		}, "no marketplace"},
	} {
		o := sandboxOptions("http://127.0.0.1:1", "t", 3)
		c.edit(&o)
		_, err := simulate.RunSandbox(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one naming %s", c.name, err, c.want)
		}
	}
}
