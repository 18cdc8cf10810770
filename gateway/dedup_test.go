package gateway_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/bus/jetstream"
	"github.com/orderlane/orderlane/cache"
	"github.com/orderlane/orderlane/cache/natskv"
	"github.com/orderlane/orderlane/cache/redisstore"
	"github.com/orderlane/orderlane/dedup"
	"github.com/orderlane/orderlane/gateway"
	"github.com/orderlane/orderlane/marketplace/lazada"
	"github.com/orderlane/orderlane/marketplace/shopee"
	"github.com/orderlane/orderlane/server"
)

// sharedTier opens the shared tier of the idempotency filter for a
// gateway whose topic runs on e. Every store a tier opens within one test
// sees the same keys: the KV bucket on e (so, after a restart of e, the
// bucket as it was on disk), or one key prefix on the test Redis.
type sharedTier struct {
	name string
	open func(t *testing.T) func(e *jetstream.Embedded) cache.Store
}

func sharedTiers() []sharedTier {
	return []sharedTier{
		{"kv", func(t *testing.T) func(e *jetstream.Embedded) cache.Store {
			return func(e *jetstream.Embedded) cache.Store {
				js, err := natsjs.New(e.Conn)
				if err != nil {
					t.Fatal(err)
				}
				s, err := natskv.New(context.Background(), js, natskv.Config{})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
		}},
		{"redis", func(t *testing.T) func(e *jetstream.Embedded) cache.Store {
			url := os.Getenv("ORDERLANE_TEST_REDIS_URL")
			if url == "" {
				t.Skip("ORDERLANE_TEST_REDIS_URL is not set: no Redis to test against (.ci/run sets it)")
			}
			prefix := "orderlane-test:" + rand.Text() + ":"
			return func(*jetstream.Embedded) cache.Store {
				rdb, err := redisstore.NewClient(redisstore.ClientConfig{URL: url})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { rdb.Close() })
				if err := rdb.Ping(context.Background()).Err(); err != nil {
					t.Fatalf("ORDERLANE_TEST_REDIS_URL is set but Redis does not answer: %v", err)
				}
				return redisstore.New(rdb, prefix)
			}
		}},
	}
}

// instance is one gateway with its own idempotency filter (its own
// in-process tier) and metrics, as one orderlane process runs it.
type instance struct {
	*bundle
	filter *dedup.Filter
	reg    *prometheus.Registry
}

// topic starts an embedded JetStream server on dir; stop it with close.
func topic(t *testing.T, dir string, cfg jetstream.Config) (*jetstream.Embedded, *jetstream.Bus) {
	t.Helper()
	e, err := jetstream.StartEmbedded(jetstream.EmbeddedConfig{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = quiet()
	b, err := jetstream.New(context.Background(), e.Conn, cfg)
	if err != nil {
		e.Close()
		t.Fatal(err)
	}
	return e, b
}

// newInstance serves a gateway publishing with pub (the bus when nil) and
// filtering with a new filter on store (no filter when store is nil).
func newInstance(t *testing.T, e *jetstream.Embedded, b *jetstream.Bus, pub gateway.Publisher, store cache.Store) *instance {
	t.Helper()
	in := &instance{reg: prometheus.NewRegistry()}
	cfg := gateway.Config{Logger: quiet(), Registerer: in.reg}
	if store != nil {
		f, err := dedup.New(dedup.Config{Store: store})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Close)
		in.filter, cfg.Dedup = f, f
	}
	if pub == nil {
		pub = b
	}
	srv := httptest.NewServer(gateway.New(cfg, pub, server.Receivers(testConfig, quiet())...))
	t.Cleanup(srv.Close)
	in.bundle = &bundle{srv: srv, bus: b, nats: e}
	return in
}

func (in *instance) push(t *testing.T, path, sig, body string) {
	t.Helper()
	if resp, out := in.post(t, path, sig, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d %s, want 200", path, resp.StatusCode, out)
	}
}

// results is orderlane_pushes_total of platform by result.
func (in *instance) results(t *testing.T, platform string) map[string]int {
	t.Helper()
	mfs, err := in.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, mf := range mfs {
		if mf.GetName() != "orderlane_pushes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["platform"] == platform {
				out[labels["result"]] = int(m.GetCounter().GetValue())
			}
		}
	}
	return out
}

func wantResults(t *testing.T, in *instance, platform string, want map[string]int) {
	t.Helper()
	got := in.results(t, platform)
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s pushes by result: %v, want %v", platform, got, want)
		}
	}
	for k, v := range got {
		if want[k] != v {
			t.Fatalf("%s pushes by result: %v, want %v", platform, got, want)
		}
	}
}

// storedWithKey counts the messages on the topic under the push's key.
func (b *bundle) storedWithKey(t *testing.T, key string) int {
	t.Helper()
	n := 0
	for _, m := range b.stored(t) {
		if m.ID == key {
			n++
		}
	}
	return n
}

func shopeeKey(t *testing.T) string {
	t.Helper()
	e, err := shopee.Parse([]byte(shopeeBody), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return e.Key
}

func lazadaSig(body string) string {
	return lazada.SignPush("123456", []byte("3412gyo124goi3124"), []byte(body))
}

// waitBrokerForgets returns once the broker's dedup window has passed
// for everything published before the call: it publishes a probe, then
// republishes it until the broker no longer calls it a duplicate.
func waitBrokerForgets(t *testing.T, b *jetstream.Bus) {
	t.Helper()
	probe := bus.Message{ID: "probe-" + rand.Text(), Subject: "shopee.notice", Group: "probe", Data: []byte(`{}`)}
	if _, err := b.Publish(context.Background(), probe); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := b.Publish(context.Background(), probe)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Duplicate {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the broker's dedup window did not pass within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFilterDropsDuplicatesWithinBrokerWindow: repeats are answered 200
// by the filter, counted as duplicate_filtered, and stored once.
func TestFilterDropsDuplicatesWithinBrokerWindow(t *testing.T) {
	t.Parallel()
	for _, tier := range sharedTiers() {
		t.Run(tier.name, func(t *testing.T) {
			t.Parallel()
			open := tier.open(t)
			e, b := topic(t, t.TempDir(), jetstream.Config{})
			t.Cleanup(e.Close)
			in := newInstance(t, e, b, nil, open(e))
			for range 3 {
				in.push(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody)
			}
			if n := in.storedWithKey(t, shopeeKey(t)); n != 1 {
				t.Fatalf("stored %d times, want 1", n)
			}
			wantResults(t, in, "shopee", map[string]int{gateway.ResultAccepted: 1, gateway.ResultDuplicateFiltered: 2})
		})
	}
}

// TestFilterDropsDuplicatesBeyondBrokerWindow: with a 500ms broker window,
// a push resent after the window has passed is still dropped: by the
// instance that took it (memory tier) and by a fresh instance (shared
// tier). Without the filter the same resend is stored again, which proves
// the window had passed.
func TestFilterDropsDuplicatesBeyondBrokerWindow(t *testing.T) {
	t.Parallel()
	for _, tier := range sharedTiers() {
		t.Run(tier.name, func(t *testing.T) {
			t.Parallel()
			open := tier.open(t)
			e, b := topic(t, t.TempDir(), jetstream.Config{DuplicateWindow: 500 * time.Millisecond})
			t.Cleanup(e.Close)
			a := newInstance(t, e, b, nil, open(e))
			a.push(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody)
			waitBrokerForgets(t, b)

			a.push(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody)
			wantResults(t, a, "shopee", map[string]int{gateway.ResultAccepted: 1, gateway.ResultDuplicateFiltered: 1})
			fresh := newInstance(t, e, b, nil, open(e))
			fresh.push(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody)
			wantResults(t, fresh, "shopee", map[string]int{gateway.ResultDuplicateFiltered: 1})
			if n := a.storedWithKey(t, shopeeKey(t)); n != 1 {
				t.Fatalf("stored %d times with the filter, want 1", n)
			}

			unfiltered := newInstance(t, e, b, nil, nil)
			unfiltered.push(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody)
			if n := a.storedWithKey(t, shopeeKey(t)); n != 2 {
				t.Fatalf("without the filter the resend was stored %d times in all, want 2 (window passed)", n)
			}
		})
	}
}

// TestFilterSurvivesRestart: the embedded server, the gateway and the
// filter are stopped and started again on the same data dir; a resend is
// dropped by the shared tier (the KV bucket on disk, or Redis).
func TestFilterSurvivesRestart(t *testing.T) {
	t.Parallel()
	for _, tier := range sharedTiers() {
		t.Run(tier.name, func(t *testing.T) {
			t.Parallel()
			open := tier.open(t)
			dir := t.TempDir()
			e, b := topic(t, dir, jetstream.Config{})
			before := newInstance(t, e, b, nil, open(e))
			before.push(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody)
			before.srv.Close()
			before.filter.Close()
			e.Close()

			e, b = topic(t, dir, jetstream.Config{})
			t.Cleanup(e.Close)
			after := newInstance(t, e, b, nil, open(e))
			after.push(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody)
			wantResults(t, after, "shopee", map[string]int{gateway.ResultDuplicateFiltered: 1})
			if n := after.storedWithKey(t, shopeeKey(t)); n != 1 {
				t.Fatalf("stored %d times across the restart, want 1", n)
			}
		})
	}
}

// TestTwoInstancesShareTheFilter: two gateways, each with its own filter
// (own memory tier) on one shared tier; a push taken by one is dropped by
// the other, both ways.
func TestTwoInstancesShareTheFilter(t *testing.T) {
	t.Parallel()
	for _, tier := range sharedTiers() {
		t.Run(tier.name, func(t *testing.T) {
			t.Parallel()
			open := tier.open(t)
			e, b := topic(t, t.TempDir(), jetstream.Config{})
			t.Cleanup(e.Close)
			one := newInstance(t, e, b, nil, open(e))
			two := newInstance(t, e, b, nil, open(e))
			one.push(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody)
			two.push(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody)
			two.push(t, "/webhooks/lazada", lazadaSig(lazadaBody), lazadaBody)
			one.push(t, "/webhooks/lazada", lazadaSig(lazadaBody), lazadaBody)
			wantResults(t, one, "shopee", map[string]int{gateway.ResultAccepted: 1})
			wantResults(t, two, "shopee", map[string]int{gateway.ResultDuplicateFiltered: 1})
			wantResults(t, two, "lazada", map[string]int{gateway.ResultAccepted: 1})
			wantResults(t, one, "lazada", map[string]int{gateway.ResultDuplicateFiltered: 1})
			if n := len(one.stored(t)); n != 2 {
				t.Fatalf("%d messages stored for two pushes sent twice each, want 2", n)
			}
		})
	}
}

// switchPublisher fails until it is switched on.
type switchPublisher struct {
	pub gateway.Publisher
	on  atomic.Bool
}

func (p *switchPublisher) Publish(ctx context.Context, m bus.Message) (bus.PublishResult, error) {
	if !p.on.Load() {
		return bus.PublishResult{}, errors.New("disk full")
	}
	return p.pub.Publish(ctx, m)
}

// TestFailedAppendDoesNotMark: a push whose append failed (503) is not
// remembered by either tier, so the marketplace's retry is appended and
// stored; only then is the key marked.
func TestFailedAppendDoesNotMark(t *testing.T) {
	t.Parallel()
	for _, tier := range sharedTiers() {
		t.Run(tier.name, func(t *testing.T) {
			t.Parallel()
			open := tier.open(t)
			e, b := topic(t, t.TempDir(), jetstream.Config{})
			t.Cleanup(e.Close)
			pub := &switchPublisher{pub: b}
			in := newInstance(t, e, b, pub, open(e))
			resp, body := in.post(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody)
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("failed append: %d %s, want 503", resp.StatusCode, body)
			}
			other := newInstance(t, e, b, nil, open(e)) // sees only the shared tier
			for _, f := range []*dedup.Filter{in.filter, other.filter} {
				if seen, err := f.Seen(context.Background(), shopeeKey(t)); seen || err != nil {
					t.Fatalf("key of a failed append is marked (seen=%v err=%v)", seen, err)
				}
			}

			pub.on.Store(true)
			in.push(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody)
			if n := in.storedWithKey(t, shopeeKey(t)); n != 1 {
				t.Fatalf("the retry was stored %d times, want 1", n)
			}
			in.push(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody)
			wantResults(t, in, "shopee", map[string]int{
				gateway.ResultUnavailable: 1, gateway.ResultAccepted: 1, gateway.ResultDuplicateFiltered: 1,
			})
		})
	}
}

// TestUnsignedPushNeitherProbesNorMarks: the filter is asked only after
// the signature is verified: a badly signed copy of a known push gets 401,
// not 200, and a badly signed new push marks nothing.
func TestUnsignedPushNeitherProbesNorMarks(t *testing.T) {
	t.Parallel()
	e, b := topic(t, t.TempDir(), jetstream.Config{})
	t.Cleanup(e.Close)
	in := newInstance(t, e, b, nil, sharedTiers()[0].open(t)(e))
	in.push(t, "/webhooks/shopee", shopeeSig(shopeeBody), shopeeBody)
	if resp, _ := in.post(t, "/webhooks/shopee", "forged", shopeeBody); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged copy of a known push: %d, want 401", resp.StatusCode)
	}
	if resp, _ := in.post(t, "/webhooks/lazada", "forged", lazadaBody); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged new push: %d, want 401", resp.StatusCode)
	}
	in.push(t, "/webhooks/lazada", lazadaSig(lazadaBody), lazadaBody)
	wantResults(t, in, "lazada", map[string]int{gateway.ResultUnauthorized: 1, gateway.ResultAccepted: 1})
}
