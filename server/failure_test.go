package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/marketplace/shopee"
)

// The failure-handling tests of the assembled server: what a marketplace
// and an operator see when an event is poison, when the stream is down and
// when the disk is nearly full.

const (
	testToken    = "test-token"
	testPushKey  = "k1"
	testCallback = "https://seller.example/webhooks/shopee"
)

type fixture struct {
	t    *testing.T
	srv  *Server
	base string
}

func start(t *testing.T, edit func(*config.Config)) *fixture {
	t.Helper()
	cfg := config.Config{
		HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), APIToken: testToken,
		Shopee: config.Shopee{PushKey: testPushKey, CallbackURL: testCallback},
	}
	if edit != nil {
		edit(&cfg)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &fixture{t: t, srv: srv, base: "http://" + srv.Addr()}
}

// push sends a signed Shopee order status push and returns the status code
// and how long the answer took.
func (f *fixture) push(msgID, order, status string, updated time.Time) (int, time.Duration) {
	f.t.Helper()
	body := fmt.Sprintf(`{"msg_id":%q,"shop_id":1001,"code":3,"timestamp":%d,"data":{"ordersn":%q,"status":%q,"update_time":%d}}`,
		msgID, updated.Unix()+1, order, status, updated.Unix())
	req, _ := http.NewRequest(http.MethodPost, f.base+"/webhooks/shopee", strings.NewReader(body))
	req.Header.Set("Authorization", shopee.SignPush(testCallback, []byte(testPushKey), []byte(body)))
	began := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, time.Since(began)
}

// get calls the API with the token; it decodes a 200 answer into dst.
func (f *fixture) get(path string, dst any) int {
	f.t.Helper()
	return f.call(http.MethodGet, path, dst)
}

func (f *fixture) call(method, path string, dst any) int {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && dst != nil {
		if err := json.NewDecoder(resp.Body).Decode(dst); err != nil {
			f.t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

type deadLetterList struct {
	DeadLetters []struct {
		ID, Subscription, Group, Reason, Error string
	} `json:"dead_letters"`
}

// TestPoisonPushDeadLetteredAndHeldThenDiscarded: a push the gateway
// accepts but the orders subscription cannot apply (an update time days
// in the future would pin the order's status) is dead-lettered at once,
// with its reason, in the API and the metrics; the audit subscription
// records it as usual. With the orders subscription in strict mode the
// order's next event waits until the dead letter is discarded.
func TestPoisonPushDeadLetteredAndHeldThenDiscarded(t *testing.T) {
	t.Parallel()
	f := start(t, func(c *config.Config) { c.HoldOnDeadLetter = "orders" })
	now := time.Now()
	if code, _ := f.push("poison-1", "ORD1", "UNPAID", now.Add(72*time.Hour)); code != http.StatusOK {
		t.Fatalf("poison push: %d, want 200 (it is stored; applying it is what fails)", code)
	}
	if code, _ := f.push("next-1", "ORD1", "READY_TO_SHIP", now.Add(-time.Hour)); code != http.StatusOK {
		t.Fatalf("next push: %d", code)
	}
	if code, _ := f.push("other-1", "ORD2", "UNPAID", now.Add(-time.Hour)); code != http.StatusOK {
		t.Fatalf("other push: %d", code)
	}
	var dls deadLetterList
	waitFor(t, "the dead letter", 20*time.Second, func() bool {
		return f.get("/api/v1/deadletters?subscription=orders", &dls) == 200 && len(dls.DeadLetters) == 1
	})
	dl := dls.DeadLetters[0]
	if dl.Group != "shopee:1001:ORD1" || dl.Reason != "permanent" || !strings.Contains(dl.Error, "update time") {
		t.Errorf("dead letter %+v", dl)
	}
	waitFor(t, "the other order", 20*time.Second, func() bool { return f.get("/api/v1/orders/shopee/1001/ORD2", nil) == 200 })
	if code := f.get("/api/v1/orders/shopee/1001/ORD1", nil); code != http.StatusNotFound {
		t.Errorf("held order: %d, want 404 (its next event waits behind the dead letter)", code)
	}
	var subs struct {
		Subscriptions []struct {
			Name    string
			Blocked int
			Held    int
		}
	}
	waitFor(t, "the held group in /api/v1/subscriptions", 10*time.Second, func() bool {
		if f.get("/api/v1/subscriptions", &subs) != 200 {
			return false
		}
		for _, s := range subs.Subscriptions {
			if s.Name == "orders" && s.Blocked == 1 && s.Held == 1 {
				return true
			}
		}
		return false
	})
	metrics := f.metrics()
	if !strings.Contains(metrics, `orderlane_dead_letters{reason="permanent",subscription="orders"} 1`) ||
		!strings.Contains(metrics, `orderlane_subscription_blocked{subscription="orders"} 1`) ||
		!strings.Contains(metrics, `orderlane_dead_letter_oldest_age_seconds{subscription="orders"}`) {
		t.Errorf("metrics lack the dead letter or the held group:\n%s", grep(metrics, "dead_letter", "blocked"))
	}
	if code := f.call(http.MethodDelete, "/api/v1/deadletters/"+dl.ID, nil); code != http.StatusNoContent {
		t.Fatalf("discard: %d", code)
	}
	var o struct{ Status string }
	waitFor(t, "the held order to move on", 20*time.Second, func() bool {
		return f.get("/api/v1/orders/shopee/1001/ORD1", &o) == 200 && o.Status == "ready_to_ship"
	})
}

// TestStreamDownAnswers503Fast: with the stream's server stopped, a push
// is answered 503 within the publish timeout (not left hanging until the
// marketplace gives up) and /readyz turns 503.
func TestStreamDownAnswers503Fast(t *testing.T) {
	t.Parallel()
	f := start(t, func(c *config.Config) { c.PublishTimeout = 500 * time.Millisecond })
	if code, _ := f.push("before", "ORD1", "UNPAID", time.Now().Add(-time.Hour)); code != http.StatusOK {
		t.Fatalf("push with the stream up: %d", code)
	}
	f.srv.nats.Server.Shutdown()
	code, took := f.push("during", "ORD2", "UNPAID", time.Now().Add(-time.Hour))
	if code != http.StatusServiceUnavailable || took > 2*time.Second {
		t.Errorf("push with the stream down: %d after %s, want 503 within the 500ms publish timeout (+ margin)", code, took)
	}
	began := time.Now()
	code = f.get("/readyz", nil)
	if code != http.StatusServiceUnavailable || time.Since(began) > 3*time.Second {
		t.Errorf("/readyz with the stream down: %d after %s, want 503 within its 2s bound", code, time.Since(began))
	}
}

// TestDiskNearlyFullRefusesPushes: below the free-space threshold pushes
// get 503 (the marketplace retries later) before anything is written, and
// /readyz says why; the query API still answers.
func TestDiskNearlyFullRefusesPushes(t *testing.T) {
	t.Parallel()
	f := start(t, func(c *config.Config) { c.MinFreeDisk = 1 << 62 }) // more than any disk has
	if code, _ := f.push("p1", "ORD1", "UNPAID", time.Now().Add(-time.Hour)); code != http.StatusServiceUnavailable {
		t.Errorf("push on a nearly full disk: %d, want 503", code)
	}
	if code := f.get("/readyz", nil); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz on a nearly full disk: %d, want 503", code)
	}
	var page struct{ Orders []any }
	if code := f.get("/api/v1/orders", &page); code != 200 || len(page.Orders) != 0 {
		t.Errorf("orders: %d %v; want the API up and nothing stored", code, page.Orders)
	}
}

func (f *fixture) metrics() string {
	f.t.Helper()
	resp, err := http.Get(f.base + "/metrics")
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grep(text string, words ...string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		for _, w := range words {
			if strings.Contains(line, w) && !strings.HasPrefix(line, "#") {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
