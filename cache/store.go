package cache

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by a Store for a key it does not hold, and by a
// loader (and then by Cache.Get) for a value the source does not have:
// Cache caches it for NegativeTTL.
var ErrNotFound = errors.New("cache: not found")

// Store is the shared tier: bytes under string keys, each with its own
// time to live, seen by every orderlane instance and kept across restarts.
// Drivers: natskv (JetStream key-value bucket, the embedded default) and
// redisstore (Redis, when ORDERLANE_REDIS_URL is set); both pass the suite
// in cache/storetest.
//
// Keys are any strings: a driver maps them onto what its backend accepts.
// Every method is safe for concurrent use.
type Store interface {
	// Get returns the value under key, or ErrNotFound when there is none
	// or it expired.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key for ttl, replacing any value.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Add stores value under key for ttl only if key holds no value; it
	// reports whether it did. Of concurrent Adds of one key exactly one
	// reports true: the first writer wins, across instances.
	Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}
