package natskv_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/orderlane/orderlane/bus/jetstream"
	"github.com/orderlane/orderlane/cache"
	"github.com/orderlane/orderlane/cache/natskv"
	"github.com/orderlane/orderlane/cache/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	e, err := jetstream.StartEmbedded(jetstream.EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	js, err := natsjs.New(e.Conn)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) cache.Store {
		s, err := natskv.New(context.Background(), js, natskv.Config{Bucket: fmt.Sprintf("test%d", n.Add(1))})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
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
