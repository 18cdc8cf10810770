package apiwire

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// TestTransportErrorRedactsQuery: a transport error quotes the request
// URL; Do leaves its parameter names but no value (tokens, signatures,
// secrets) in the text or in the *url.Error, and still reports it as
// ErrTemporary.
func TestTransportErrorRedactsQuery(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens any more
	d := doer()
	d.MaxAttempts = 1
	_, err := d.Do(context.Background(), "k", get(base+"/api/order?access_token=AT-SECRET&sign=5e1f&app_secret=S3CR3T&ids=1"), statusCheck)
	if !errors.Is(err, marketplace.ErrTemporary) {
		t.Fatalf("err = %v, want ErrTemporary", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want a *url.Error in the chain", err)
	}
	for _, s := range []string{err.Error(), ue.URL} {
		for _, secret := range []string{"AT-SECRET", "5e1f", "S3CR3T"} {
			if strings.Contains(s, secret) {
				t.Fatalf("%q leaks %s", s, secret)
			}
		}
		if !strings.Contains(s, "/api/order?") || !strings.Contains(s, "access_token=REDACTED") {
			t.Fatalf("%q lost the URL's shape", s)
		}
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://h/p":                       "https://h/p",
		"https://u:pw@h/p?a=1&a=2&b=x#frag": "https://h/p?a=REDACTED&b=REDACTED",
		"https://h/p?a=%zz&token=T":         "https://h/p?REDACTED",
		"://bad":                            "(unparsable request URL)",
	} {
		err := fmt.Errorf("wrapped: %w", &url.Error{Op: "Get", URL: raw, Err: errors.New("boom")})
		var ue *url.Error
		if !errors.As(RedactURL(err), &ue) || ue.URL != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, ue.URL, want)
		}
	}
	if RedactURL(nil) != nil {
		t.Error("RedactURL(nil) != nil")
	}
}
