package apiwire

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderlane/orderlane/marketplace"
)

func statusCheck(r Response) error {
	if k := StatusKind(r.Status); k != nil {
		return k
	}
	if r.Status != 200 {
		return errors.New("refused")
	}
	return nil
}

func server(t *testing.T, statuses ...int) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		w.WriteHeader(statuses[min(i, len(statuses)-1)])
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func doer() *Doer { return &Doer{BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond} }

func get(url string) func() (*http.Request, error) {
	return func() (*http.Request, error) { return http.NewRequest(http.MethodGet, url, nil) }
}

func TestDoRetriesTemporaryThenSucceeds(t *testing.T) {
	srv, n := server(t, 503, 429, 200)
	resp, err := doer().Do(context.Background(), "k", get(srv.URL), statusCheck)
	if err != nil || string(resp.Body) != "ok" || n.Load() != 3 {
		t.Fatalf("err %v body %q after %d calls; want ok after 3", err, resp.Body, n.Load())
	}
}

func TestDoGivesUpAfterMaxAttempts(t *testing.T) {
	srv, n := server(t, 503)
	_, err := doer().Do(context.Background(), "k", get(srv.URL), statusCheck)
	if !errors.Is(err, marketplace.ErrTemporary) || n.Load() != DefaultMaxAttempts {
		t.Fatalf("err %v after %d calls; want ErrTemporary after %d", err, n.Load(), DefaultMaxAttempts)
	}
}

func TestDoDoesNotRetryRefusal(t *testing.T) {
	srv, n := server(t, 400, 200)
	_, err := doer().Do(context.Background(), "k", get(srv.URL), statusCheck)
	if err == nil || errors.Is(err, marketplace.ErrTemporary) || n.Load() != 1 {
		t.Fatalf("err %v after %d calls; want a refusal after 1", err, n.Load())
	}
}

func TestDoStopsWithContext(t *testing.T) {
	srv, _ := server(t, 503)
	d := &Doer{BackoffMin: time.Hour, BackoffMax: time.Hour}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := d.Do(ctx, "k", get(srv.URL), statusCheck)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, marketplace.ErrTemporary) {
		t.Fatalf("err %v; want the deadline, naming the last failure", err)
	}
}

func TestDoBoundsBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 100)))
	}))
	defer srv.Close()
	d := doer()
	d.MaxBody = 10
	d.MaxAttempts = 1
	if _, err := d.Do(context.Background(), "k", get(srv.URL), statusCheck); err == nil || !strings.Contains(err.Error(), "over 10 bytes") {
		t.Fatalf("err %v; want the body limit", err)
	}
}

func TestLimitersPerKey(t *testing.T) {
	l := NewLimiters(1, 1) // one request per second per key
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := l.Wait(ctx, "b"); err != nil {
		t.Fatalf("another key must not wait: %v", err)
	}
	if err := l.Wait(ctx, "a"); err == nil {
		t.Fatal("a second request on key a within the second went through")
	}
}

func TestLimitersWaitBeyondDeadlineIsDeadline(t *testing.T) {
	l := NewLimiters(0.1, 1) // one token every 10 s
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = l.Wait(ctx, "k")
	if err := l.Wait(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v; want context.DeadlineExceeded", err)
	}
}
