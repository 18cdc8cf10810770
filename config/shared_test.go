package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/config"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestSharedTierDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.URL != "" || c.SharedTimeout != 250*time.Millisecond || c.Dedup.TTL != 72*time.Hour || c.Dedup.Memory != 100_000 ||
		c.Cache.TTL != 10*time.Minute || c.Cache.MemoryTTL != time.Minute || c.Cache.NegativeTTL != 30*time.Second || c.Cache.Memory != 10_000 {
		t.Fatalf("defaults: %+v %+v %+v %s", c.Redis, c.Dedup, c.Cache, c.SharedTimeout)
	}
}

func TestSharedTierEnv(t *testing.T) {
	t.Parallel()
	c, err := config.Load("", env(map[string]string{
		"ORDERLANE_REDIS_URL":          "rediss://orderlane:s3cret@cache.internal:6380/1",
		"ORDERLANE_REDIS_TLS_CA":       "/etc/orderlane/redis-ca.pem",
		"ORDERLANE_SHARED_TIMEOUT":     "100ms",
		"ORDERLANE_DEDUP_TTL":          "96h",
		"ORDERLANE_DEDUP_MEMORY":       "5000",
		"ORDERLANE_CACHE_TTL":          "5m",
		"ORDERLANE_CACHE_MEMORY_TTL":   "10s",
		"ORDERLANE_CACHE_NEGATIVE_TTL": "5s",
		"ORDERLANE_CACHE_MEMORY":       "100",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{}
	want.Redis = config.Redis{URL: "rediss://orderlane:s3cret@cache.internal:6380/1", TLSCA: "/etc/orderlane/redis-ca.pem"}
	want.Dedup = config.Dedup{TTL: 96 * time.Hour, Memory: 5000}
	want.Cache = config.Cache{TTL: 5 * time.Minute, MemoryTTL: 10 * time.Second, NegativeTTL: 5 * time.Second, Memory: 100}
	if c.Redis != want.Redis || c.Dedup != want.Dedup || c.Cache != want.Cache || c.SharedTimeout != 100*time.Millisecond {
		t.Fatalf("from the environment: %+v %+v %+v %s", c.Redis, c.Dedup, c.Cache, c.SharedTimeout)
	}
	// With only a short TTL set, the in-process TTL follows it down.
	c, err = config.Load("", env(map[string]string{"ORDERLANE_CACHE_TTL": "20s"}))
	if err != nil || c.Cache.MemoryTTL != 20*time.Second {
		t.Fatalf("cache.memory_ttl %s (%v), want 20s", c.Cache.MemoryTTL, err)
	}
}

func TestSharedTierValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"scheme", map[string]string{"ORDERLANE_REDIS_URL": "http://:s3cret@cache:6379"}, "redis.url"},
		{"no host", map[string]string{"ORDERLANE_REDIS_URL": "redis://"}, "redis.url"},
		{"ca without tls", map[string]string{"ORDERLANE_REDIS_URL": "redis://:s3cret@cache:6379", "ORDERLANE_REDIS_TLS_CA": "ca.pem"}, "redis.tls_ca"},
		{"ca without url", map[string]string{"ORDERLANE_REDIS_TLS_CA": "ca.pem"}, "redis.tls_ca"},
		{"dedup ttl", map[string]string{"ORDERLANE_DEDUP_TTL": "500ms"}, "dedup.ttl"},
		{"memory ttl", map[string]string{"ORDERLANE_CACHE_TTL": "1m", "ORDERLANE_CACHE_MEMORY_TTL": "2m"}, "cache.memory_ttl"},
		{"memory", map[string]string{"ORDERLANE_DEDUP_MEMORY": "lots"}, "ORDERLANE_DEDUP_MEMORY"},
	} {
		_, err := config.Load("", env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error echoes the Redis password: %v", tc.name, err)
		}
	}
}
