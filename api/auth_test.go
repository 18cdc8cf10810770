package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/orderlane/orderlane/api"
	"github.com/orderlane/orderlane/apitoken"
	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/httperror"
	"github.com/orderlane/orderlane/store/sqlite"
)

// TestTokenScopes: a read token reads orders but gets 403 on the admin
// API; an admin token and the configured token get both; a revoked,
// unknown or missing token gets 401.
func TestTokenScopes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "o.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tokens, err := apitoken.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Config{
		Token: token, Tokens: tokens,
		Subscriptions: func(context.Context) []bus.Stats { return nil },
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, st)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)

	cli, err := apitoken.Open(dir) // the CLI, writing while the server runs
	if err != nil {
		t.Fatal(err)
	}
	read, readTok, err := cli.Create(apitoken.Read, "reporting")
	if err != nil {
		t.Fatal(err)
	}
	admin, _, err := cli.Create(apitoken.Admin, "ops")
	if err != nil {
		t.Fatal(err)
	}
	const orders, subs = "/api/v1/orders", "/api/v1/subscriptions"
	for _, tc := range []struct {
		name, tok, path string
		want            int
	}{
		{"read token, query API", read, orders, 200},
		{"read token, admin API", read, subs, 403},
		{"admin token, query API", admin, orders, 200},
		{"admin token, admin API", admin, subs, 200},
		{"configured token, admin API", token, subs, 200},
		{"unknown token", "olt_nope", orders, 401},
		{"no token", "", orders, 401},
	} {
		status, body := get(t, srv, tc.path, tc.tok)
		if status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, status, body, tc.want)
			continue
		}
		if want := map[int]string{401: httperror.CodeUnauthorized, 403: httperror.CodeForbidden}[status]; want != "" && errCode(t, body) != want {
			t.Errorf("%s: error code %s, want %s", tc.name, errCode(t, body), want)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+subs, nil)
	req.Header.Set("Authorization", "Bearer "+read)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := resp.Header.Get("WWW-Authenticate"); h != `Bearer realm="orderlane", error="insufficient_scope", scope="admin"` {
		t.Errorf("403 WWW-Authenticate %q", h)
	}
	if _, err := cli.Revoke(readTok.ID); err != nil {
		t.Fatal(err)
	}
	if status, body := get(t, srv, orders, read); status != 401 {
		t.Fatalf("revoked token: %d %s, want 401", status, body)
	}
}
