package redisstore_test

import (
	"context"
	"crypto/rand"
	"os"
	"testing"

	"github.com/orderlane/orderlane/cache"
	"github.com/orderlane/orderlane/cache/redisstore"
	"github.com/orderlane/orderlane/cache/storetest"
)

// TestConformance runs against the Redis at ORDERLANE_TEST_REDIS_URL
// (.ci/run sets it), each subtest under its own key prefix.
func TestConformance(t *testing.T) {
	t.Parallel()
	url := os.Getenv("ORDERLANE_TEST_REDIS_URL")
	if url == "" {
		t.Skip("ORDERLANE_TEST_REDIS_URL is not set: no Redis to test against (.ci/run sets it)")
	}
	rdb, err := redisstore.NewClient(redisstore.ClientConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("ORDERLANE_TEST_REDIS_URL is set but Redis does not answer: %v", err)
	}
	storetest.Run(t, func(t *testing.T) cache.Store {
		prefix := "orderlane-test:" + rand.Text() + ":"
		t.Cleanup(func() {
			ctx := context.Background()
			keys, _ := rdb.Keys(ctx, prefix+"*").Result()
			if len(keys) > 0 {
				rdb.Del(ctx, keys...)
			}
		})
		return redisstore.New(rdb, prefix)
	})
}

func TestClientConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  redisstore.ClientConfig
		ok   bool
	}{
		{"plain", redisstore.ClientConfig{URL: "redis://:secret@127.0.0.1:6379/2"}, true},
		{"tls", redisstore.ClientConfig{URL: "rediss://user:secret@cache.example:6380/0"}, true},
		{"ca without tls", redisstore.ClientConfig{URL: "redis://127.0.0.1:6379/0", TLSCAFile: "ca.pem"}, false},
		{"missing ca file", redisstore.ClientConfig{URL: "rediss://cache.example:6380/0", TLSCAFile: "/nonexistent/ca.pem"}, false},
		{"bad scheme", redisstore.ClientConfig{URL: "http://127.0.0.1:6379"}, false},
	} {
		c, err := redisstore.NewClient(tc.cfg)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.name, err, tc.ok)
		}
		if c != nil {
			o := c.Options()
			if tc.name == "tls" && (o.TLSConfig == nil || o.TLSConfig.ServerName != "cache.example" || o.Username != "user") {
				t.Errorf("tls: options %+v", o)
			}
			if o.MaxRetries > 0 || o.DialTimeout <= 0 {
				t.Errorf("%s: retries %d dial timeout %s", tc.name, o.MaxRetries, o.DialTimeout)
			}
			c.Close()
		}
	}
}
