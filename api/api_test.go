package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/orderlane/orderlane/api"
	"github.com/orderlane/orderlane/httperror"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/store/sqlite"
)

const token = "test-token"

func setup(t *testing.T, ready func(context.Context) error) (*httptest.Server, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "o.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := api.New(api.Config{Token: token, Ready: ready, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, st)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	upd := time.Date(2025, 12, 14, 5, 17, 19, 0, time.UTC)
	for i, raw := range []string{"UNPAID", "READY_TO_SHIP"} {
		_, err := st.Apply(context.Background(), &order.Event{
			Platform: order.Shopee, ShopID: "336094210", OrderID: "251214B9XAB0ST", Kind: order.KindStatus,
			PushType: "3", PlatformStatus: raw, Status: []order.Status{order.StatusUnpaid, order.StatusReadyToShip}[i],
			UpdateTime: upd.Add(time.Duration(i) * time.Minute), Key: raw, ReceivedAt: upd, Payload: []byte(`{}`), Seq: uint64(i + 1),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return srv, st
}

func get(t *testing.T, srv *httptest.Server, path, tok string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func errCode(t *testing.T, body []byte) string {
	t.Helper()
	var e httperror.Body
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	return e.Error.Code
}

func TestGetOrder(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, nil)
	status, body := get(t, srv, "/api/v1/orders/shopee/336094210/251214B9XAB0ST", token)
	if status != 200 {
		t.Fatalf("status %d %s", status, body)
	}
	var o map[string]any
	if err := json.Unmarshal(body, &o); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"platform": "shopee", "shop_id": "336094210", "order_id": "251214B9XAB0ST",
		"status": "ready_to_ship", "platform_status": "READY_TO_SHIP",
	} {
		if o[k] != want {
			t.Errorf("%s = %v, want %v", k, o[k], want)
		}
	}
	if _, err := time.Parse(time.RFC3339, o["updated_at"].(string)); err != nil {
		t.Errorf("updated_at %v: %v", o["updated_at"], err)
	}

	status, body = get(t, srv, "/api/v1/orders/shopee/336094210/251214B9XAB0ST/events", token)
	var evs struct{ Events []order.EventRecord }
	if status != 200 || json.Unmarshal(body, &evs) != nil || len(evs.Events) != 2 || evs.Events[0].Key != "UNPAID" {
		t.Fatalf("events: %d %s", status, body)
	}
}

func TestAuthAndNotFound(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, nil)
	for _, tc := range []struct {
		path, tok string
		status    int
		code      string
	}{
		{"/api/v1/orders/shopee/336094210/251214B9XAB0ST", "", 401, httperror.CodeUnauthorized},
		{"/api/v1/orders/shopee/336094210/251214B9XAB0ST", "wrong", 401, httperror.CodeUnauthorized},
		{"/api/v1/orders", token + "x", 401, httperror.CodeUnauthorized},
		{"/api/v1/orders/shopee/336094210/NOPE", token, 404, httperror.CodeNotFound},
		{"/api/v1/orders/shopee/336094210/NOPE/events", token, 404, httperror.CodeNotFound},
		{"/api/v1/orders/amazon/1/2", token, 404, httperror.CodeNotFound},
		{"/api/v1/nothing", token, 404, httperror.CodeNotFound},
		{"/api/v1/orders?limit=0", token, 400, httperror.CodeBadRequest},
		{"/api/v1/orders?limit=abc", token, 400, httperror.CodeBadRequest},
		{"/api/v1/orders?status=lost", token, 400, httperror.CodeBadRequest},
		{"/api/v1/orders?platform=amazon", token, 400, httperror.CodeBadRequest},
		{"/api/v1/orders?updated_since=yesterday", token, 400, httperror.CodeBadRequest},
		{"/api/v1/orders?cursor=zzz", token, 400, httperror.CodeBadRequest},
	} {
		status, body := get(t, srv, tc.path, tc.tok)
		if status != tc.status || errCode(t, body) != tc.code {
			t.Errorf("GET %s: %d %s, want %d %s", tc.path, status, body, tc.status, tc.code)
		}
	}
}

func TestListOrders(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, nil)
	status, body := get(t, srv, "/api/v1/orders?platform=shopee&shop_id=336094210&status=ready_to_ship&updated_since=2000-01-01T00:00:00Z&limit=10", token)
	var page struct {
		Orders     []map[string]any `json:"orders"`
		NextCursor *string          `json:"next_cursor"`
	}
	if status != 200 || json.Unmarshal(body, &page) != nil || len(page.Orders) != 1 || page.NextCursor == nil || *page.NextCursor != "" {
		t.Fatalf("list: %d %s", status, body)
	}
	status, body = get(t, srv, "/api/v1/orders?status=cancelled", token)
	if status != 200 || json.Unmarshal(body, &page) != nil || len(page.Orders) != 0 {
		t.Fatalf("list cancelled: %d %s", status, body)
	}
}

func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	var readyErr error
	srv, _ := setup(t, func(context.Context) error { return readyErr })
	if status, _ := get(t, srv, "/healthz", ""); status != 200 {
		t.Fatalf("healthz %d", status)
	}
	if status, _ := get(t, srv, "/readyz", ""); status != 200 {
		t.Fatalf("readyz %d", status)
	}
	readyErr = errors.New("stream unavailable")
	status, body := get(t, srv, "/readyz", "")
	if status != 503 || errCode(t, body) != httperror.CodeUnavailable {
		t.Fatalf("readyz when not ready: %d %s", status, body)
	}
}
