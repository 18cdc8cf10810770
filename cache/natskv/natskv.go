// Package natskv is the cache.Store driver on a JetStream key-value
// bucket: the shared tier of the embedded default, on the same NATS
// connection as the topic. Each key carries its own TTL (per-message TTL,
// nats-server >= 2.11), so the bucket needs no sweeper; Add is KV Create,
// which the server makes atomic (first writer wins).
//
// Writes are as durable as the server is configured to be: with the
// embedded default's fsync-always, each Set or Add costs one fsync.
package natskv

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderlane/orderlane/cache"
)

// Config configures the bucket.
type Config struct {
	// Bucket names the key-value bucket (its stream is KV_<Bucket>).
	// Defaults to "orderlane".
	Bucket string
	// Replicas is 1 on the embedded server, 3 on a cluster. Defaults to 1.
	Replicas int
	// MarkerTTL is how long the bucket keeps the marker a Delete or an
	// expiry leaves behind. Defaults to 1m.
	MarkerTTL time.Duration
	// Storage defaults to file storage, so marks survive a restart.
	Storage jetstream.StorageType
}

// Store is a cache.Store on a JetStream key-value bucket.
type Store struct {
	js        jetstream.JetStream
	kv        jetstream.KeyValue
	subject   string // "$KV.<bucket>."
	markerTTL time.Duration
}

var _ cache.Store = (*Store)(nil)

// New creates or updates the bucket (idempotent) and returns the store.
func New(ctx context.Context, js jetstream.JetStream, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = "orderlane"
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.MarkerTTL <= 0 {
		cfg.MarkerTTL = time.Minute
	}
	cfg.MarkerTTL = roundTTL(cfg.MarkerTTL)
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "orderlane shared tier: idempotency marks and cached look-ups, each with its own TTL",
		History:     1,
		Storage:     cfg.Storage,
		Replicas:    cfg.Replicas,
		// Required for per-key TTLs (it turns on AllowMsgTTL).
		LimitMarkerTTL: cfg.MarkerTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("natskv: bucket %s: %w", cfg.Bucket, err)
	}
	return &Store{js: js, kv: kv, subject: "$KV." + cfg.Bucket + ".", markerTTL: cfg.MarkerTTL}, nil
}

// Get implements cache.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	e, err := s.kv.Get(ctx, Token(key))
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return nil, cache.ErrNotFound
		}
		return nil, fmt.Errorf("natskv: get: %w", err)
	}
	return e.Value(), nil
}

// Set implements cache.Store. KV Put takes no TTL, so Set publishes to the
// key's subject in the bucket's stream ("$KV.<bucket>.<key>", the
// key-value layout every client shares) with a per-message TTL, which is
// what Put does plus the TTL header.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	m := &nats.Msg{Subject: s.subject + Token(key), Data: value}
	if _, err := s.js.PublishMsg(ctx, m, jetstream.WithMsgTTL(roundTTL(ttl))); err != nil {
		return fmt.Errorf("natskv: set: %w", err)
	}
	return nil
}

// Add implements cache.Store with KV Create: the server appends only if
// the key has no live value.
func (s *Store) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	_, err := s.kv.Create(ctx, Token(key), value, jetstream.KeyTTL(roundTTL(ttl)))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyExists):
		return false, nil
	}
	return false, fmt.Errorf("natskv: add: %w", err)
}

// Delete implements cache.Store: a purge, whose marker expires after
// MarkerTTL.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.kv.Purge(ctx, Token(key), jetstream.PurgeTTL(s.markerTTL)); err != nil {
		return fmt.Errorf("natskv: delete: %w", err)
	}
	return nil
}

// Collector reports, at each scrape, how many live keys the bucket holds
// and its bytes on disk (orderlane_shared_cache_keys, _bytes; a failed
// look-up reports nothing). The server holding the bucket keeps an index
// entry in memory for every live key, about 200 bytes each (measured; see
// docs/benchmarks.md), so the key count is what to watch.
func (s *Store) Collector() prometheus.Collector { return collector{s} }

var (
	keysDesc = prometheus.NewDesc("orderlane_shared_cache_keys",
		"Live keys in the shared tier's key-value bucket (idempotency marks and cached look-ups).", nil, nil)
	bytesDesc = prometheus.NewDesc("orderlane_shared_cache_bytes",
		"Bytes the shared tier's key-value bucket holds on disk.", nil, nil)
)

type collector struct{ s *Store }

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- keysDesc; ch <- bytesDesc }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.s.kv.Status(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(keysDesc, prometheus.GaugeValue, float64(st.Values()))
	ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.GaugeValue, float64(st.Bytes()))
}

// roundTTL rounds up to whole seconds, the server's TTL unit (at least 1s).
func roundTTL(d time.Duration) time.Duration {
	return max(time.Second, (d + time.Second - 1).Truncate(time.Second))
}

// hashedPrefix starts every hashed token; a verbatim key never does.
const hashedPrefix = "_h."

// maxVerbatim is the longest key used as is.
const maxVerbatim = 128

// Token maps key onto a valid key-value key: the key itself when it is
// short and uses only [-_=a-zA-Z0-9] and inner single dots, else "_h." and
// the unpadded base64url SHA-256 of the key (46 characters). Distinct keys
// give distinct tokens (up to SHA-256 collisions).
func Token(key string) string {
	if len(key) <= maxVerbatim && verbatim(key) {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return hashedPrefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

func verbatim(key string) bool {
	if key == "" || key[0] == '.' || key[len(key)-1] == '.' || strings.Contains(key, "..") || strings.HasPrefix(key, hashedPrefix) {
		return false
	}
	for i := 0; i < len(key); i++ {
		if !keyChar(key[i]) {
			return false
		}
	}
	return true
}

// keyChar reports whether c may stand in a key as is ('/' may too, but is
// left to hashing: it reads as a path separator in tools).
func keyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '=' || c == '.'
}
