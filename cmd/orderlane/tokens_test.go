package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/server"
)

// TestTokensCommand: tokens made by `orderlane tokens create` on the data
// dir of a running server are accepted with their scope at once; `list`
// shows them without secrets; `revoke` shuts one out on the next request.
func TestTokensCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := config.Config{HTTPAddr: "127.0.0.1:0", DataDir: dir, APIToken: "configured-admin"}.WithDefaults()
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := runTokens(append(args, "--data-dir", dir), &out, &errOut)
		return strings.TrimSpace(out.String()), err
	}
	read, err := run("create", "--scope", "read", "--name", "reporting")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := run("create", "--scope", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run("create"); err == nil {
		t.Fatal("create without --scope succeeded")
	}
	list, err := run("list")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(list, read) || strings.Contains(list, admin) || !strings.Contains(list, "reporting") || strings.Count(list, "\n") != 2 {
		t.Fatalf("list:\n%s", list)
	}
	base := "http://" + srv.Addr()
	call := func(tok, path string) int {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		tok, path string
		want      int
	}{
		{read, "/api/v1/orders", 200},
		{read, "/api/v1/subscriptions", 403},
		{admin, "/api/v1/subscriptions", 200},
		{"configured-admin", "/api/v1/subscriptions", 200},
	} {
		if got := call(tc.tok, tc.path); got != tc.want {
			t.Errorf("%s with %.12s...: %d, want %d", tc.path, tc.tok, got, tc.want)
		}
	}
	id := strings.Fields(strings.Split(list, "\n")[1])[0]
	if _, err := run("revoke", id); err != nil {
		t.Fatal(err)
	}
	if got := call(read, "/api/v1/orders"); got != http.StatusUnauthorized {
		t.Fatalf("revoked read token: %d, want 401", got)
	}
}

// TestTokensRefusesMissingDataDir: the tool does not create a data dir
// the server would not read.
func TestTokensRefusesMissingDataDir(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := runTokens([]string{"create", "--scope", "read", "--data-dir", filepath.Join(t.TempDir(), "missing")}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "data dir") {
		t.Fatalf("err = %v, want a data dir error", err)
	}
}
