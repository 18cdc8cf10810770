package gateway

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// keyed holds one token bucket per key (a shop, a client address) in a
// bounded LRU: at most max buckets, the least recently used forgotten
// first, and a bucket unused for its refill time dropped as it is passed
// (it is full again, so a new one is the same). A request with a new key
// can therefore never grow memory past max, and forgetting a bucket can
// only admit more, never refuse more. A nil *keyed holds nothing.
type keyed struct {
	b    Bucket
	max  int
	idle time.Duration

	mu  sync.Mutex
	m   map[string]*list.Element
	lru list.List // of *keyedEntry, most recently used first
}

type keyedEntry struct {
	key  string
	lim  *rate.Limiter
	used time.Time
}

func newKeyed(b Bucket, max int) *keyed {
	return &keyed{b: b, max: max, idle: b.refill(), m: make(map[string]*list.Element)}
}

// get returns key's bucket, creating it (full) if needed.
func (k *keyed) get(key string, now time.Time) *rate.Limiter {
	k.mu.Lock()
	defer k.mu.Unlock()
	// Drop up to two idle buckets from the cold end: amortised expiry
	// without a sweeper goroutine.
	for range 2 {
		back := k.lru.Back()
		if back == nil {
			break
		}
		e := back.Value.(*keyedEntry)
		if now.Sub(e.used) < k.idle || e.key == key {
			break
		}
		k.lru.Remove(back)
		delete(k.m, e.key)
	}
	if el, ok := k.m[key]; ok {
		e := el.Value.(*keyedEntry)
		e.used = now
		k.lru.MoveToFront(el)
		return e.lim
	}
	if len(k.m) >= k.max {
		back := k.lru.Back()
		k.lru.Remove(back)
		delete(k.m, back.Value.(*keyedEntry).key)
	}
	e := &keyedEntry{key: key, lim: k.b.limiter(), used: now}
	k.m[key] = k.lru.PushFront(e)
	return e.lim
}

// len is the number of buckets held.
func (k *keyed) len() int {
	if k == nil {
		return 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}
