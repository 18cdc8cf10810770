package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/server"
)

// TestRolesGateEndpoints: an instance serves only what its roles name:
// no webhooks without the gateway role, no API without the api role;
// health and readiness always. Its worker id is kept in the data dir.
func TestRolesGateEndpoints(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		roles       []string
		webhooks    bool
		api         bool
		subscribers bool
	}{
		{roles: []string{"gateway"}, webhooks: true},
		{roles: []string{"api"}, api: true},
		{roles: []string{"worker"}, subscribers: true},
		{roles: []string{"gateway", "worker", "api"}, webhooks: true, api: true, subscribers: true},
	} {
		t.Run(strings.Join(tc.roles, "+"), func(t *testing.T) {
			dir := t.TempDir()
			cfg := config.Config{
				HTTPAddr: "127.0.0.1:0", DataDir: dir, APIToken: "test-token",
				Shopee:  config.Shopee{PushKey: "k1", CallbackURL: "https://seller.example/webhooks/shopee"},
				Cluster: config.Cluster{Roles: tc.roles},
			}.WithDefaults()
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			}()
			get := func(method, path string) (int, string) {
				req, _ := http.NewRequest(method, "http://"+srv.Addr()+path, strings.NewReader("{}"))
				req.Header.Set("Authorization", "Bearer test-token")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var body struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&body)
				if resp.StatusCode == http.StatusNotFound && strings.Contains(body.Error.Message, "runs the roles") {
					return resp.StatusCode, "gated"
				}
				return resp.StatusCode, body.Error.Code
			}
			if code, _ := get(http.MethodGet, "/healthz"); code != http.StatusOK {
				t.Fatalf("/healthz: %d", code)
			}
			code, ecode := get(http.MethodPost, "/webhooks/shopee")
			if gated := ecode == "gated"; gated == tc.webhooks {
				t.Fatalf("webhook answered %d %q; webhooks served: want %v", code, ecode, tc.webhooks)
			}
			for _, path := range []string{"/api/v1/orders", "/connect/shopee/callback"} {
				code, ecode = get(http.MethodGet, path)
				if gated := ecode == "gated"; gated == tc.api {
					t.Fatalf("%s answered %d %q; API served: want %v", path, code, ecode, tc.api)
				}
			}
			if got := len(srv.Subscriptions()); (got > 0) != tc.subscribers {
				t.Fatalf("%d subscriptions running; want some: %v", got, tc.subscribers)
			}
			id, err := os.ReadFile(filepath.Join(dir, "worker-id"))
			if err != nil || len(strings.TrimSpace(string(id))) == 0 {
				t.Fatalf("worker id not kept in the data dir: %q %v", id, err)
			}
		})
	}
}

// TestDebugListenerServesProfiler: with debug_addr the profiler answers
// on its own listener, and never on the main one.
func TestDebugListenerServesProfiler(t *testing.T) {
	t.Parallel()
	cfg := config.Config{HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), APIToken: "test-token", DebugAddr: "127.0.0.1:0"}.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Shutdown(context.Background()) }()
	status := func(base string) int {
		resp, err := http.Get("http://" + base + "/debug/pprof/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(srv.DebugAddr()); got != http.StatusOK {
		t.Fatalf("profiler on the debug listener: %d", got)
	}
	if got := status(srv.Addr()); got == http.StatusOK {
		t.Fatal("profiler served on the main listener")
	}
}
