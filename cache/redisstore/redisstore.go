// Package redisstore is the cache.Store driver on Redis (ElastiCache at
// scale): the shared tier when ORDERLANE_REDIS_URL is set. Add is
// SET key value NX PX ttl, atomic on the server.
package redisstore

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/orderlane/orderlane/cache"
)

// ClientConfig configures the Redis client.
type ClientConfig struct {
	// URL is redis://[user:password@]host:port/db, or rediss:// for TLS
	// (the server's name is checked against its certificate). Query
	// parameters of go-redis (dial_timeout, pool_size, ...) apply.
	// Required.
	URL string
	// TLSCAFile is a PEM bundle of the CAs that sign the server's
	// certificate, for a private CA; empty uses the system's roots. Only
	// with rediss://.
	TLSCAFile string
	// Timeout bounds dialling, reads and writes unless the URL sets them.
	// Defaults to 500ms: the guard in front of the store bounds each call
	// more tightly still.
	Timeout time.Duration
}

// NewClient returns a client for cfg. It does not connect: the first
// command does, so a Redis that is down at start only degrades.
func NewClient(cfg ClientConfig) (*redis.Client, error) {
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redisstore: url: %w", err)
	}
	if cfg.TLSCAFile != "" {
		if opts.TLSConfig == nil {
			return nil, errors.New("redisstore: a TLS CA needs a rediss:// URL")
		}
		pem, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("redisstore: TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("redisstore: TLS CA %s: no PEM certificate", cfg.TLSCAFile)
		}
		opts.TLSConfig = opts.TLSConfig.Clone()
		opts.TLSConfig.RootCAs = pool
		opts.TLSConfig.MinVersion = max(opts.TLSConfig.MinVersion, tls.VersionTLS12)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 500 * time.Millisecond
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = cfg.Timeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = cfg.Timeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = cfg.Timeout
	}
	if opts.MaxRetries == 0 {
		// A failed call falls back at once; the guard retries later.
		opts.MaxRetries = -1
	}
	opts.DialerRetries = 1
	opts.ContextTimeoutEnabled = true
	// Plain GET/SET: no client-identity or maintenance-notification
	// handshakes, which older servers and proxies refuse.
	opts.DisableIdentity = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return redis.NewClient(opts), nil
}

// Store is a cache.Store on Redis.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ cache.Store = (*Store)(nil)

// New returns a store on rdb whose keys all start with prefix (default
// "orderlane:"), so that several deployments or tests can share one
// database. The client stays the caller's to close.
func New(rdb redis.UniversalClient, prefix string) *Store {
	if prefix == "" {
		prefix = "orderlane:"
	}
	return &Store{rdb: rdb, prefix: prefix}
}

// Get implements cache.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := s.rdb.Get(ctx, s.Key(key)).Bytes()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, cache.ErrNotFound
		}
		return nil, fmt.Errorf("redisstore: get: %w", err)
	}
	return b, nil
}

// Set implements cache.Store: SET key value PX ttl.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, s.Key(key), value, minTTL(ttl)).Err(); err != nil {
		return fmt.Errorf("redisstore: set: %w", err)
	}
	return nil
}

// Add implements cache.Store: SET key value NX PX ttl.
func (s *Store) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.Key(key), value, minTTL(ttl)).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: add: %w", err)
	}
	return ok, nil
}

// Delete implements cache.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.rdb.Del(ctx, s.Key(key)).Err(); err != nil {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	return nil
}

// maxVerbatim is the longest key stored as is; longer ones are hashed.
const maxVerbatim = 200

// Key is the Redis key for key: the prefix and key itself, or for a key
// longer than 200 bytes the prefix, "#" and its unpadded base64url
// SHA-256 (a verbatim key never starts with "#": those are hashed too).
func (s *Store) Key(key string) string {
	if len(key) <= maxVerbatim && (key == "" || key[0] != '#') {
		return s.prefix + key
	}
	sum := sha256.Sum256([]byte(key))
	return s.prefix + "#" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// minTTL keeps a TTL positive: zero would mean "keep forever" to Redis.
func minTTL(d time.Duration) time.Duration { return max(d, time.Millisecond) }
