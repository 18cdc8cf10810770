package gateway

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/orderlane/orderlane/httperror"
)

// Bucket is a token bucket: Rate tokens a second, at most Burst saved up.
// One push takes one token. A zero Rate turns the bucket off.
type Bucket struct {
	// Rate is the sustained pushes per second.
	Rate float64
	// Burst is how many pushes may arrive at once after a quiet spell. At
	// least 1 when Rate is set.
	Burst int
}

func (b Bucket) on() bool { return b.Rate > 0 }

func (b Bucket) limiter() *rate.Limiter { return rate.NewLimiter(rate.Limit(b.Rate), b.Burst) }

// refill is how long an unused bucket takes to fill up: after it, a
// forgotten bucket and a new one are the same.
func (b Bucket) refill() time.Duration {
	return time.Duration(math.Ceil(float64(b.Burst)/b.Rate*1e3)) * time.Millisecond
}

// Limits configures throttling (429 + Retry-After) and load shedding
// (503 + Retry-After). The zero value turns everything off.
//
// Every check runs before the append, so a refused push was never stored
// and a stored push is never refused: throttling cannot lose an
// acknowledged push. The checks that need no body run before it is read,
// so an unauthenticated flood costs a bucket look-up per request, not a
// body read and an HMAC.
type Limits struct {
	// MaxInFlight caps the pushes being handled at once: verified,
	// parsed, filtered and appended. A push arriving while the cap is
	// reached gets 503 with Retry-After before its body is read; one that
	// reaches it after its body was read, the same. A body still being
	// sent holds no slot, so slow senders cannot lock out the others
	// (they are cut off by the server's read timeout). 0: no cap.
	MaxInFlight int
	// IP is each client address's bucket (IPv6: each /64), checked first,
	// before the body is read. The address is the one Config.ClientIP
	// returns (trusted proxies). Off when Rate is 0.
	IP Bucket
	// Platform is each marketplace's bucket, checked before the body is
	// read, so a flood on one webhook cannot use up the others' share of
	// Global.
	Platform Bucket
	// Global is all marketplaces' bucket together, checked before the
	// body is read.
	Global Bucket
	// Shop is each shop's bucket. The shop is only known once the push is
	// verified and parsed, so this check runs then, after the idempotency
	// filter: a repeat of a stored push is answered 200 without a token.
	Shop Bucket
	// MaxKeys bounds the buckets kept per keyed scope (IP, Shop); the least
	// recently used is forgotten first, and a bucket unused long enough to
	// have filled up again is dropped. Forgetting a bucket can only let
	// more through, never less. Defaults to 10000 (about 200 bytes each).
	MaxKeys int
}

// Throttle scopes, the values of orderlane_throttled_total{scope}.
const (
	ScopeInFlight = "in_flight"
	ScopeIP       = "ip"
	ScopePlatform = "platform"
	ScopeGlobal   = "global"
	ScopeShop     = "shop"
)

// Results counted in orderlane_pushes_total{result} for refused pushes.
const (
	// ResultThrottled: a bucket was empty; 429.
	ResultThrottled = "throttled"
	// ResultShed: MaxInFlight pushes were being handled; 503.
	ResultShed = "shed"
	// ResultForbidden: the client address is not in the route's
	// allow-list; 403.
	ResultForbidden = "forbidden"
)

// throttle holds the buckets.
type throttle struct {
	lim       Limits
	global    *rate.Limiter
	platform  map[string]*rate.Limiter
	ip, shop  *keyed
	inFlight  atomic.Int64
	throttled *prometheus.CounterVec
}

func newThrottle(lim Limits, platforms []string) *throttle {
	if lim.MaxKeys <= 0 {
		lim.MaxKeys = 10_000
	}
	t := &throttle{
		lim: lim,
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderlane_throttled_total",
			Help: "Pushes refused by throttling (429) or load shedding (503, scope in_flight), by platform and scope.",
		}, []string{"platform", "scope"}),
	}
	if lim.Global.on() {
		t.global = lim.Global.limiter()
	}
	if lim.Platform.on() {
		t.platform = make(map[string]*rate.Limiter, len(platforms))
		for _, p := range platforms {
			t.platform[p] = lim.Platform.limiter()
		}
	}
	if lim.IP.on() {
		t.ip = newKeyed(lim.IP, lim.MaxKeys)
	}
	if lim.Shop.on() {
		t.shop = newKeyed(lim.Shop, lim.MaxKeys)
	}
	return t
}

func (t *throttle) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		t.throttled,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "orderlane_gateway_in_flight",
			Help: "Pushes being handled now.",
		}, func() float64 { return float64(t.inFlight.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "orderlane_throttle_buckets", Help: "Buckets held, by keyed scope.",
			ConstLabels: prometheus.Labels{"scope": ScopeIP},
		}, func() float64 { return float64(t.ip.len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "orderlane_throttle_buckets", Help: "Buckets held, by keyed scope.",
			ConstLabels: prometheus.Labels{"scope": ScopeShop},
		}, func() float64 { return float64(t.shop.len()) }),
	}
}

// full reports whether MaxInFlight pushes are being handled.
func (t *throttle) full() bool {
	return t.lim.MaxInFlight > 0 && t.inFlight.Load() >= int64(t.lim.MaxInFlight)
}

// enter counts a push in; ok is false when MaxInFlight are already being
// handled. leave must follow either way.
func (t *throttle) enter() (ok bool) {
	n := t.inFlight.Add(1)
	return t.lim.MaxInFlight <= 0 || n <= int64(t.lim.MaxInFlight)
}

func (t *throttle) leave() { t.inFlight.Add(-1) }

// admit takes a token from the client address's, the platform's and the
// global bucket, in that order, all or none: a push refused by one bucket
// does not use up the others (the tokens it took are given back). It
// returns the refusing scope and how long until a token is there.
func (t *throttle) admit(platform, ipKey string, now time.Time) (scope string, wait time.Duration) {
	var taken [2]*rate.Reservation
	n := 0
	try := func(l *rate.Limiter, s string) bool {
		if l == nil {
			return true
		}
		r := l.ReserveN(now, 1)
		if d := r.DelayFrom(now); !r.OK() || d > 0 {
			r.CancelAt(now)
			for _, prev := range taken[:n] {
				prev.CancelAt(now)
			}
			scope, wait = s, d
			return false
		}
		if n < len(taken) {
			taken[n] = r
			n++
		}
		return true
	}
	if t.ip != nil && !try(t.ip.get(ipKey, now), ScopeIP) {
		return scope, wait
	}
	if !try(t.platform[platform], ScopePlatform) {
		return scope, wait
	}
	if !try(t.global, ScopeGlobal) {
		return scope, wait
	}
	return "", 0
}

// admitShop takes a token from the shop's bucket.
func (t *throttle) admitShop(platform, shopID string, now time.Time) (ok bool, wait time.Duration) {
	if t.shop == nil {
		return true, 0
	}
	r := t.shop.get(platform+":"+shopID, now).ReserveN(now, 1)
	if d := r.DelayFrom(now); !r.OK() || d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// refuse answers a throttled (429) or shed (503) push with Retry-After and
// the JSON error.
func refuse(w http.ResponseWriter, platform, scope string, wait time.Duration) int {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	if scope == ScopeInFlight {
		httperror.Write(w, http.StatusServiceUnavailable, httperror.CodeOverloaded,
			"too many pushes in flight; retry")
		return http.StatusServiceUnavailable
	}
	httperror.Write(w, http.StatusTooManyRequests, httperror.CodeTooManyRequests,
		fmt.Sprintf("%s push rate above the %s limit; retry after %d s", platform, scope, secs))
	return http.StatusTooManyRequests
}
