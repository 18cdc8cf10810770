// Package simwire is what the marketplace fakes share on the server side:
// the gateway's rate limit, a token bucket per key (API path and shop).
package simwire

import (
	"sync"

	"golang.org/x/time/rate"
)

// Limits keeps one token bucket per key, in real time (it paces requests,
// whatever the sale's clock does). It is safe for concurrent use; the nil
// *Limits allows everything.
type Limits struct {
	rate  rate.Limit
	burst int

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// NewLimits allows perSecond requests per key with the given burst (at
// least 1). A perSecond <= 0 (or NaN) returns nil: no limit.
func NewLimits(perSecond float64, burst int) *Limits {
	if !(perSecond > 0) {
		return nil
	}
	return &Limits{rate: rate.Limit(perSecond), burst: max(burst, 1), m: map[string]*rate.Limiter{}}
}

// Allow takes a token from key's bucket, reporting whether there was one.
func (l *Limits) Allow(key string) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	lim, ok := l.m[key]
	if !ok {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.m[key] = lim
	}
	l.mu.Unlock()
	return lim.Allow()
}
