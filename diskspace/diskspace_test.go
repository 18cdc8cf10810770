package diskspace_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orderlane/orderlane/diskspace"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func start(t *testing.T, minFree int64) *diskspace.Monitor {
	t.Helper()
	m, err := diskspace.Start(diskspace.Config{Dir: t.TempDir(), MinFree: minFree, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	return m
}

func serve(m *diskspace.Monitor) (*httptest.ResponseRecorder, bool) {
	called := false
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true })
	rec := httptest.NewRecorder()
	m.Guard(next).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/webhooks/shopee", strings.NewReader("{}")))
	return rec, called
}

// TestNearlyFullRefusesPushes: below MinFree (here more than any disk
// has), pushes get 503 with Retry-After before reaching the gateway, and
// the monitor's error says why (for /readyz).
func TestNearlyFullRefusesPushes(t *testing.T) {
	t.Parallel()
	m := start(t, 1<<62)
	rec, called := serve(m)
	if called || rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		!strings.Contains(rec.Body.String(), `"unavailable"`) {
		t.Fatalf("push on a nearly full disk: %d %q (passed on: %v)", rec.Code, rec.Body.String(), called)
	}
	if err := m.Err(); !errors.Is(err, diskspace.ErrLow) || !m.Low() || m.Free() <= 0 {
		t.Errorf("Err %v, Low %v, Free %d", err, m.Low(), m.Free())
	}
}

func TestRoomLetsPushesThrough(t *testing.T) {
	t.Parallel()
	m := start(t, 1)
	if rec, called := serve(m); !called || rec.Code != http.StatusOK {
		t.Fatalf("push with room: %d, passed on: %v", rec.Code, called)
	}
	if m.Err() != nil || m.Low() {
		t.Errorf("Err %v, Low %v", m.Err(), m.Low())
	}
}

func TestCheckOff(t *testing.T) {
	t.Parallel()
	m := start(t, -1)
	if _, called := serve(m); !called || m.Free() != -1 {
		t.Fatalf("check off: passed on %v, free %d", called, m.Free())
	}
}

func TestStartNeedsAMeasurableDir(t *testing.T) {
	t.Parallel()
	if _, err := diskspace.Start(diskspace.Config{Dir: filepath.Join(t.TempDir(), "missing"), Logger: quiet}); err == nil {
		t.Fatal("Start on a missing directory: want an error")
	}
	if _, err := diskspace.Start(diskspace.Config{}); err == nil {
		t.Fatal("Start without Dir: want an error")
	}
}
