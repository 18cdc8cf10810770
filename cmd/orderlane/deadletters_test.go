package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/api"
	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/bus/jetstream"
	"github.com/orderlane/orderlane/store/sqlite"
)

// TestDeadLettersCommand drives `orderlane deadletters` against the admin
// API over a real embedded bus: list, show, replay (handled, then gone),
// discard, and replay --all-matching.
func TestDeadLettersCommand(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := jetstream.StartEmbedded(jetstream.EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	ctx := context.Background()
	b, err := jetstream.New(ctx, e.Conn, jetstream.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var fixed atomic.Bool
	var handled atomic.Int32
	sub, err := b.Subscribe(ctx, bus.SubscriptionConfig{Name: "orders"}, func(ctx context.Context, d *bus.Delivery) error {
		if strings.HasPrefix(string(d.Data), `"poison`) && !fixed.Load() {
			return bus.Permanent(errors.New("rejected by the store"))
		}
		handled.Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Stop(ctx) })
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "o.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, err := api.New(api.Config{Token: "cli-token", Logger: quiet, DeadLetters: b}, st)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfgPath := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfgPath, []byte("api_token: cli-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := runDeadLetters(append(args, "--config", cfgPath, "--url", srv.URL), &out); err != nil {
			t.Fatalf("deadletters %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	for i, g := range []string{"shopee:1:A", "lazada:2:B", "tiktok:3:C"} {
		if _, err := b.Publish(ctx, bus.Message{ID: g, Subject: strings.Split(g, ":")[0] + ".order", Group: g,
			Data: []byte(`"poison-` + string(rune('a'+i)) + `"`)}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(run("list"), "3 dead letter(s)") {
		if time.Now().After(deadline) {
			t.Fatal("three dead letters never listed")
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	out := run("list", "--platform", "shopee")
	if !strings.Contains(out, "shopee:1:A") || !strings.Contains(out, "permanent") ||
		!strings.Contains(out, "rejected by the store") || !strings.Contains(out, "1 dead letter(s)") {
		t.Errorf("list --platform shopee:\n%s", out)
	}
	idOf := func(platform string) string {
		var page struct {
			DeadLetters []struct{ ID string } `json:"dead_letters"`
		}
		if err := json.Unmarshal([]byte(run("list", "--platform", platform, "--json")), &page); err != nil || len(page.DeadLetters) != 1 {
			t.Fatalf("list --platform %s --json: %v %+v", platform, err, page)
		}
		return page.DeadLetters[0].ID
	}
	shopee, lazada, tiktok := idOf("shopee"), idOf("lazada"), idOf("tiktok")
	if out := run("show", shopee); !strings.Contains(out, `"event": "poison-a"`) {
		t.Errorf("show %s:\n%s", shopee, out)
	}
	fixed.Store(true)
	if out := run("replay", shopee); !strings.Contains(out, "dead letter "+shopee+" replayed as topic seq") {
		t.Errorf("replay %s:\n%s", shopee, out)
	}
	if out := run("discard", lazada); !strings.Contains(out, "dead letter "+lazada+" discarded") {
		t.Errorf("discard %s:\n%s", lazada, out)
	}
	if out := run("replay", "--all-matching", "--subscription", "orders"); !strings.Contains(out, "dead letter "+tiktok+" replayed") {
		t.Errorf("replay --all-matching:\n%s", out)
	}
	for handled.Load() < 2 || !strings.Contains(run("list"), "0 dead letter(s)") {
		if time.Now().After(deadline) {
			t.Fatalf("replays not handled: %d handled; list:\n%s", handled.Load(), run("list"))
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	var out2 bytes.Buffer
	if err := runDeadLetters([]string{"show", lazada, "--config", cfgPath, "--url", srv.URL}, &out2); err == nil ||
		!strings.Contains(err.Error(), "404 dead letter not found") {
		t.Errorf("show a discarded dead letter: %v", err)
	}
	if err := runDeadLetters([]string{"replay", "--all-matching", "--config", cfgPath, "--url", srv.URL}, &out2); err == nil {
		t.Error("replay --all-matching without a filter or --all: want an error")
	}
}
