package natskv_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderlane/orderlane/bus/jetstream"
	"github.com/orderlane/orderlane/cache"
	"github.com/orderlane/orderlane/cache/natskv"
	"github.com/orderlane/orderlane/cache/storetest"
)

// startJS starts an embedded server for the test and returns its client.
func startJS(t *testing.T) natsjs.JetStream {
	t.Helper()
	e, err := jetstream.StartEmbedded(jetstream.EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	js, err := natsjs.New(e.Conn)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestConformance(t *testing.T) {
	t.Parallel()
	js := startJS(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) cache.Store {
		s, err := natskv.New(context.Background(), js, natskv.Config{Bucket: fmt.Sprintf("test%d", n.Add(1))})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestCollectorCountsLiveKeys: the gauge follows the bucket's live keys,
// which is what the server holds an index entry in memory for.
func TestCollectorCountsLiveKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := natskv.New(ctx, startJS(t), natskv.Config{Bucket: "gauge"})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Collector())
	keys := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "orderlane_shared_cache_keys" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("orderlane_shared_cache_keys not reported")
		return 0
	}
	if got := keys(); got != 0 {
		t.Fatalf("empty bucket: %v keys", got)
	}
	for i := range 25 {
		if _, err := s.Add(ctx, fmt.Sprintf("dedup.k%d", i), []byte{'1'}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Add(ctx, "dedup.k0", []byte{'1'}, time.Hour); err != nil { // a repeat adds no key
		t.Fatal(err)
	}
	if got := keys(); got != 25 {
		t.Fatalf("after 25 marks: %v keys, want 25", got)
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key      string
		verbatim bool
	}{
		{"dedup.abc-DEF_0=9", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"shopee:1", false},
		{".a", false}, {"a.", false}, {"a..b", false}, {"a b", false}, {"a*", false}, {"a>", false},
		{"_h.x", false},
		{"", false},
	} {
		got := natskv.Token(tc.key)
		if (got == tc.key) != tc.verbatim {
			t.Errorf("Token(%.30q) = %q, verbatim %v", tc.key, got, tc.verbatim)
		}
		if !tc.verbatim && (len(got) != 46 || !strings.HasPrefix(got, "_h.")) {
			t.Errorf("Token(%.30q) = %q, want _h. and 43 base64url characters", tc.key, got)
		}
	}
	if natskv.Token("a:b") == natskv.Token("a:c") {
		t.Fatal("distinct keys share a token")
	}
}
