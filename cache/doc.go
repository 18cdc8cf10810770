// Package cache is orderlane's two-tier cache layer: an in-process tier
// (bounded, with TTL) in front of a shared tier (Store) that every instance
// sees and that survives restarts.
//
// Cache is cache-aside for external look-ups (shop configuration and
// credentials, marketplace order details): one load per key at a time,
// TTLs per tier, negative caching of ErrNotFound, explicit Invalidate.
// The idempotency filter (package dedup) uses the same Store.
//
// Store has two drivers: natskv, a JetStream key-value bucket with per-key
// TTL on the embedded NATS server (the default: no external service), and
// redisstore, Redis when ORDERLANE_REDIS_URL is set. Guard wraps either so
// that an unreachable shared tier costs at most one timeout per cooldown,
// is counted and logged, and never fails the caller: callers fall back to
// their in-process tier.
package cache
