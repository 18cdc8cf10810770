package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/bus/jetstream"
	"github.com/orderlane/orderlane/clientip"
	"github.com/orderlane/orderlane/dedup"
	"github.com/orderlane/orderlane/gateway"
	"github.com/orderlane/orderlane/httperror"
	"github.com/orderlane/orderlane/marketplace/tiktok"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/server"
)

// slow is a refill rate no test outlives: an empty bucket stays empty.
const slow = 1e-3

// throttled serves a gateway with gcfg over a real topic (publishing
// through pub when set), with its metrics in reg.
func throttled(t *testing.T, gcfg gateway.Config, pub gateway.Publisher) (*bundle, *prometheus.Registry) {
	t.Helper()
	e, b := topic(t, t.TempDir(), jetstream.Config{})
	t.Cleanup(e.Close)
	reg := prometheus.NewRegistry()
	gcfg.Logger, gcfg.Registerer = quiet(), reg
	if pub == nil {
		pub = b
	}
	srv := httptest.NewServer(gateway.New(gcfg, pub, server.Receivers(testConfig, quiet())...))
	t.Cleanup(srv.Close)
	return &bundle{srv: srv, bus: b, nats: e}, reg
}

// shopeePush is a signed order push for shop, with its own message id.
func shopeePush(shop int, id string) (sig, body string) {
	body = fmt.Sprintf(`{"msg_id":%q,"shop_id":%d,"code":3,"timestamp":1765689440,"data":{"ordersn":"O%s","status":"UNPAID","update_time":1765689439}}`, id, shop, id)
	return shopeeSig(body), body
}

func tiktokSig(body string) string {
	return tiktok.SignPush("29a39d", []byte("e59af819cc"), []byte(body))
}

// wantRefused checks a 429 (or 503) with a Retry-After of at least min
// seconds and the JSON error.
func wantRefused(t *testing.T, resp *http.Response, body []byte, status int, code string, min int) {
	t.Helper()
	wantError(t, resp, body, status, code)
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || ra < min {
		t.Fatalf("Retry-After %q, want a whole number of seconds >= %d", resp.Header.Get("Retry-After"), min)
	}
}

// counter returns the value of the counter name with labels.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metrics
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// TestShopBurstAboveLimit: a shop's pushes above its burst get 429 with
// Retry-After and are not stored; every push that got 200 is stored;
// another shop is not affected; and a repeat of a stored push is still
// answered 200 by the idempotency filter while its shop is throttled.
func TestShopBurstAboveLimit(t *testing.T) {
	t.Parallel()
	f, err := dedup.New(dedup.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	b, reg := throttled(t, gateway.Config{Dedup: f, Limits: gateway.Limits{Shop: gateway.Bucket{Rate: slow, Burst: 3}}}, nil)
	accepted := map[string]bool{}
	var first [2]string
	for i := range 10 {
		id := fmt.Sprintf("a%d", i)
		sig, body := shopeePush(1, id)
		resp, out := b.post(t, "/webhooks/shopee", sig, body)
		switch {
		case i < 3 && resp.StatusCode == http.StatusOK:
			accepted[id] = true
			if i == 0 {
				first = [2]string{sig, body}
			}
		case i >= 3:
			wantRefused(t, resp, out, http.StatusTooManyRequests, httperror.CodeTooManyRequests, 60)
		default:
			t.Fatalf("push %d: %d %s, want 200 within the burst", i, resp.StatusCode, out)
		}
	}
	if resp, out := b.post(t, "/webhooks/shopee", first[0], first[1]); resp.StatusCode != http.StatusOK {
		t.Fatalf("repeat of a stored push while its shop is throttled: %d %s, want 200", resp.StatusCode, out)
	}
	sig, body := shopeePush(2, "b0")
	if resp, out := b.post(t, "/webhooks/shopee", sig, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("another shop: %d %s, want 200", resp.StatusCode, out)
	}
	accepted["b0"] = true
	stored := b.stored(t)
	if len(stored) != len(accepted) {
		t.Fatalf("%d messages stored, want the %d acknowledged", len(stored), len(accepted))
	}
	for _, m := range stored {
		if !accepted[strings.TrimPrefix(m.Group, "shopee:1:O")] && !accepted[strings.TrimPrefix(m.Group, "shopee:2:O")] {
			t.Fatalf("stored %s, which was not acknowledged", m.Group)
		}
	}
	if got := counter(t, reg, "orderlane_throttled_total", map[string]string{"platform": "shopee", "scope": "shop"}); got != 7 {
		t.Fatalf("orderlane_throttled_total{scope=shop} = %v, want 7", got)
	}
}

// TestPlatformAndGlobalBeforeBody: the platform and global buckets are
// taken before the body is read (an unsigned request uses a token), all or
// none (a push refused by its platform's bucket leaves the global one
// alone), and a flood on one marketplace leaves the others their share.
func TestPlatformAndGlobalBeforeBody(t *testing.T) {
	t.Parallel()
	b, reg := throttled(t, gateway.Config{Limits: gateway.Limits{
		Platform: gateway.Bucket{Rate: slow, Burst: 3},
		Global:   gateway.Bucket{Rate: slow, Burst: 5},
	}}, nil)
	resp, out := b.post(t, "/webhooks/shopee", "bad", shopeeBody)
	wantError(t, resp, out, http.StatusUnauthorized, httperror.CodeUnauthorized)
	for i := range 2 {
		sig, body := shopeePush(1, fmt.Sprint("s", i))
		if resp, out := b.post(t, "/webhooks/shopee", sig, body); resp.StatusCode != http.StatusOK {
			t.Fatalf("shopee push %d: %d %s, want 200", i, resp.StatusCode, out)
		}
	}
	for i := range 5 { // refused by shopee's bucket: global keeps 2 tokens
		sig, body := shopeePush(1, fmt.Sprint("s-over", i))
		resp, out := b.post(t, "/webhooks/shopee", sig, body)
		wantRefused(t, resp, out, http.StatusTooManyRequests, httperror.CodeTooManyRequests, 60)
		if !strings.Contains(string(out), "platform") {
			t.Fatalf("refusal %s does not name the platform limit", out)
		}
	}
	if resp, out := b.post(t, "/webhooks/lazada", lazadaSig(lazadaBody), lazadaBody); resp.StatusCode != http.StatusOK {
		t.Fatalf("lazada during a shopee flood: %d %s, want 200", resp.StatusCode, out)
	}
	for i, want := range []int{200, 429} { // global has 1 left; tiktok's own bucket 3
		body := strings.Replace(tiktokBody, "7327112393057371910", fmt.Sprint("73271123930573719", i), 1)
		resp, out := b.post(t, "/webhooks/tiktok", tiktokSig(body), body)
		if resp.StatusCode != want {
			t.Fatalf("tiktok push %d: %d %s, want %d", i, resp.StatusCode, out, want)
		}
		if want == 429 && !strings.Contains(string(out), "global") {
			t.Fatalf("refusal %s does not name the global limit", out)
		}
	}
	if got := len(b.stored(t)); got != 4 {
		t.Fatalf("%d stored, want the 4 acknowledged", got)
	}
	for scope, want := range map[string]float64{"platform": 5, "global": 1} {
		if got := counter(t, reg, "orderlane_throttled_total", map[string]string{"scope": scope}); got != want {
			t.Fatalf("orderlane_throttled_total{scope=%s} = %v, want %v", scope, got, want)
		}
	}
}

// TestRetryAfterFollowsTheBucket: Retry-After is when the next token is
// there, rounded up to a second.
func TestRetryAfterFollowsTheBucket(t *testing.T) {
	t.Parallel()
	b, _ := throttled(t, gateway.Config{Limits: gateway.Limits{Global: gateway.Bucket{Rate: 0.25, Burst: 1}}}, nil)
	sig, body := shopeePush(1, "r1")
	if resp, _ := b.post(t, "/webhooks/shopee", sig, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("first push: %d", resp.StatusCode)
	}
	sig, body = shopeePush(1, "r2")
	resp, _ := b.post(t, "/webhooks/shopee", sig, body)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "4" {
		t.Fatalf("second push: %d, Retry-After %q; want 429, 4 (one token per 4 s)", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// TestPerAddressBucketThroughTrustedProxy: behind a trusted proxy each
// client (from X-Forwarded-For) has its own bucket; a client cannot pick
// another's bucket by writing X-Forwarded-For itself.
func TestPerAddressBucketThroughTrustedProxy(t *testing.T) {
	t.Parallel()
	res := clientip.NewResolver([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	b, reg := throttled(t, gateway.Config{
		ClientIP: res.ClientIP,
		Limits:   gateway.Limits{IP: gateway.Bucket{Rate: slow, Burst: 1}},
	}, nil)
	send := func(xff, id string) int {
		sig, body := shopeePush(1, id)
		req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/webhooks/shopee", strings.NewReader(body))
		req.Header.Set("Authorization", sig)
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		xff, id string
		want    int
	}{
		{"203.0.113.1", "p1", 200},
		{"203.0.113.1", "p2", 429},
		{"203.0.113.2", "p3", 200},
		// The client wrote "203.0.113.9" itself; the proxy appended the
		// address it saw: the bucket is 203.0.113.1's, already empty.
		{"203.0.113.9, 203.0.113.1", "p4", 429},
		// IPv6: one bucket per /64.
		{"2001:db8:1:2::1", "p5", 200},
		{"2001:db8:1:2::ffff", "p6", 429},
	} {
		if got := send(tc.xff, tc.id); got != tc.want {
			t.Fatalf("X-Forwarded-For %q: %d, want %d", tc.xff, got, tc.want)
		}
	}
	if got := counter(t, reg, "orderlane_throttle_buckets", map[string]string{"scope": "ip"}); got != 3 {
		t.Fatalf("orderlane_throttle_buckets{scope=ip} = %v, want 3", got)
	}
}

// blockingPublisher holds every append until release is closed,
// signalling entered for each.
type blockingPublisher struct {
	next    gateway.Publisher
	entered chan struct{}
	release chan struct{}
}

func (p *blockingPublisher) Publish(ctx context.Context, m bus.Message) (bus.PublishResult, error) {
	p.entered <- struct{}{}
	select {
	case <-p.release:
	case <-ctx.Done():
		return bus.PublishResult{}, ctx.Err()
	}
	return p.next.Publish(ctx, m)
}

// TestInFlightCapSheds: with MaxInFlight pushes stuck in the append, the
// next push gets 503 with Retry-After at once (counted, in the gauge), the
// stuck ones are acknowledged once the append goes on, and pushes are
// taken again after.
func TestInFlightCapSheds(t *testing.T) {
	t.Parallel()
	e, b := topic(t, t.TempDir(), jetstream.Config{})
	t.Cleanup(e.Close)
	pub := &blockingPublisher{next: b, entered: make(chan struct{}, 8), release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	g := gateway.New(gateway.Config{Logger: quiet(), Registerer: reg, PublishTimeout: 30 * time.Second,
		Limits: gateway.Limits{MaxInFlight: 2}}, pub, server.Receivers(testConfig, quiet())...)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	bb := &bundle{srv: srv, bus: b, nats: e}

	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Go(func() {
			sig, body := shopeePush(1, fmt.Sprint("held", i))
			resp, _ := bb.post(t, "/webhooks/shopee", sig, body)
			codes[i] = resp.StatusCode
		})
	}
	for range 2 {
		select {
		case <-pub.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("pushes never reached the append")
		}
	}
	if got := counter(t, reg, "orderlane_gateway_in_flight", nil); got != 2 {
		t.Fatalf("orderlane_gateway_in_flight = %v, want 2", got)
	}
	sig, body := shopeePush(1, "over")
	resp, out := bb.post(t, "/webhooks/shopee", sig, body)
	wantRefused(t, resp, out, http.StatusServiceUnavailable, httperror.CodeOverloaded, 1)
	close(pub.release)
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Fatalf("held pushes answered %v, want 200 200", codes)
	}
	sig, body = shopeePush(1, "after")
	if resp, out := bb.post(t, "/webhooks/shopee", sig, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the stall: %d %s", resp.StatusCode, out)
	}
	if got := counter(t, reg, "orderlane_throttled_total", map[string]string{"scope": "in_flight"}); got != 1 {
		t.Fatalf("orderlane_throttled_total{scope=in_flight} = %v, want 1", got)
	}
	if got := counter(t, reg, "orderlane_pushes_total", map[string]string{"result": "shed"}); got != 1 {
		t.Fatalf("orderlane_pushes_total{result=shed} = %v, want 1", got)
	}
	if got := len(bb.stored(t)); got != 3 {
		t.Fatalf("%d stored, want the 3 acknowledged", got)
	}
}

// TestAllowListPerRoute: a platform with an allow-list refuses other
// addresses with 403 before anything else; the others take every address.
func TestAllowListPerRoute(t *testing.T) {
	t.Parallel()
	b, _ := throttled(t, gateway.Config{Allow: map[order.Platform][]netip.Prefix{
		order.Shopee: {netip.MustParsePrefix("203.0.113.0/24")},
		order.TikTok: {netip.MustParsePrefix("127.0.0.0/8")},
	}}, nil)
	resp, out := b.post(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody)
	wantError(t, resp, out, http.StatusForbidden, httperror.CodeForbidden)
	if resp, out := b.post(t, "/webhooks/tiktok", tiktokSig(tiktokBody), tiktokBody); resp.StatusCode != http.StatusOK {
		t.Fatalf("tiktok from an allowed address: %d %s", resp.StatusCode, out)
	}
	if resp, out := b.post(t, "/webhooks/lazada", lazadaSig(lazadaBody), lazadaBody); resp.StatusCode != http.StatusOK {
		t.Fatalf("lazada without an allow-list: %d %s", resp.StatusCode, out)
	}
	if got := len(b.stored(t)); got != 2 {
		t.Fatalf("%d stored, want 2", got)
	}
}
