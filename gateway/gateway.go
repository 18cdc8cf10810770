// Package gateway is the HTTP ingress for marketplace pushes: it bounds the
// body, verifies the marketplace's signature over the raw bytes, parses the
// push, appends it to the topic, and answers 2xx only after the append is
// acknowledged. A push that could not be appended gets 503, so the
// marketplace retries it. A push whose idempotency key the filter
// (Config.Dedup) knows was appended before, and is answered 200 at once.
// In front of all that, Config.Limits throttles (429) and sheds (503)
// pushes, never after an append: see throttle.go and docs/security.md.
package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderlane/orderlane/bus"
	"github.com/orderlane/orderlane/clientip"
	"github.com/orderlane/orderlane/httperror"
	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/order"
)

// Publisher appends messages to the topic; see bus.
type Publisher interface {
	Publish(ctx context.Context, m bus.Message) (bus.PublishResult, error)
}

// Deduper is the idempotency filter in front of the append (package dedup).
type Deduper interface {
	// Seen reports whether a push with this idempotency key was appended
	// before. An error means the answer may be incomplete (a tier could
	// not be asked); the push then goes on to the append, whose broker
	// dedup is the guard.
	Seen(ctx context.Context, key string) (bool, error)
	// Mark records that the push with this key was durably appended.
	Mark(ctx context.Context, key string) error
}

// Receiver is one marketplace's push endpoint.
type Receiver struct {
	Platform order.Platform
	// Verify checks the signature (the Authorization header) over the raw
	// body; see the marketplace packages.
	Verify func(signature string, body []byte) error
	// Parse maps the raw body onto an event.
	Parse func(body []byte, receivedAt time.Time) (order.Event, error)
	// Missing, when not empty, names the setting the marketplace lacks:
	// its pushes get 503 and a JSON error naming it.
	Missing string
}

// Config configures the gateway.
type Config struct {
	// MaxBodyBytes caps a push body; larger gets 413. Defaults to 1 MiB.
	MaxBodyBytes int64
	// PublishTimeout bounds the append; past it the push gets 503.
	// Defaults to 2s.
	PublishTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the gateway's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Dedup, if set, answers a push whose key it has seen 200 at once,
	// without appending it again, and learns each key after its append.
	// Nil leaves duplicates to the broker's dedup window.
	Dedup Deduper
	// Limits throttles and sheds pushes; the zero value does neither.
	Limits Limits
	// ClientIP returns the client address of a request (behind trusted
	// proxies, see clientip.Resolver), for the per-address bucket, the
	// allow-lists and logs. Defaults to the TCP peer.
	ClientIP func(*http.Request) netip.Addr
	// Allow, per platform, lists the address ranges that may push; the
	// others get 403 before anything else is done. A platform absent or
	// with an empty list takes pushes from anywhere (the default: Lazada,
	// for one, publishes no address list).
	Allow map[order.Platform][]netip.Prefix
}

// Gateway serves POST /webhooks/{platform}.
type Gateway struct {
	cfg       Config
	pub       Publisher
	receivers map[string]Receiver
	log       *slog.Logger
	pushes    *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	bufs      sync.Pool
	throttle  *throttle
}

// Results counted in orderlane_pushes_total{result}.
const (
	ResultAccepted      = "accepted"
	ResultDuplicate     = "duplicate"
	ResultNotice        = "notice"
	ResultUnauthorized  = "unauthorized"
	ResultBadRequest    = "bad_request"
	ResultTooLarge      = "too_large"
	ResultUnavailable   = "unavailable"
	ResultNotConfigured = "not_configured"

	// ResultDuplicateFiltered: the idempotency filter (Config.Dedup) knew
	// the key, and the push was answered 200 without an append.
	// ResultDuplicate: the broker dropped the append as a repeat within
	// its window.
	ResultDuplicateFiltered = "duplicate_filtered"
)

// New returns the gateway for the given marketplaces.
func New(cfg Config, pub Publisher, receivers ...Receiver) *Gateway {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = clientip.NewResolver(nil).ClientIP
	}
	g := &Gateway{
		cfg: cfg, pub: pub, log: cfg.Logger,
		receivers: map[string]Receiver{},
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderlane_pushes_total",
			Help: "Marketplace pushes received, by platform and result.",
		}, []string{"platform", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "orderlane_push_ack_seconds",
			Help:    "Time from receiving a push to answering it, by platform and status class.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5},
		}, []string{"platform", "code"}),
		bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
	platforms := make([]string, 0, len(receivers))
	for _, r := range receivers {
		g.receivers[string(r.Platform)] = r
		platforms = append(platforms, string(r.Platform))
	}
	g.throttle = newThrottle(cfg.Limits, platforms)
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(g.pushes, g.latency)
		cfg.Registerer.MustRegister(g.throttle.collectors()...)
	}
	return g
}

// ServeHTTP implements http.Handler for paths under /webhooks/.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name := strings.TrimPrefix(r.URL.Path, "/webhooks/")
	rcv, ok := g.receivers[name]
	if !ok || strings.Contains(name, "/") {
		httperror.Write(w, http.StatusNotFound, httperror.CodeNotFound, "no webhook at "+r.URL.Path+"; use /webhooks/shopee, /webhooks/lazada or /webhooks/tiktok")
		return
	}
	var status int
	var result string
	if allow := g.cfg.Allow[rcv.Platform]; len(allow) > 0 && !clientip.Contains(allow, g.cfg.ClientIP(r)) {
		status, result = http.StatusForbidden, ResultForbidden
		httperror.Write(w, status, httperror.CodeForbidden, "this address may not push to "+r.URL.Path)
	} else {
		status, result = g.receive(w, r, rcv, start)
	}
	g.pushes.WithLabelValues(name, result).Inc()
	g.latency.WithLabelValues(name, statusClass(status)).Observe(time.Since(start).Seconds())
}

func (g *Gateway) receive(w http.ResponseWriter, r *http.Request, rcv Receiver, start time.Time) (int, string) {
	fail := func(status int, result, code, msg string) (int, string) {
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		httperror.Write(w, status, code, msg)
		return status, result
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return fail(http.StatusMethodNotAllowed, ResultBadRequest, httperror.CodeMethodNotAllowed, "pushes are POSTed")
	}
	if rcv.Missing != "" {
		return fail(http.StatusServiceUnavailable, ResultNotConfigured, httperror.CodeNotConfigured,
			fmt.Sprintf("%s pushes are not configured: set %s", rcv.Platform, rcv.Missing))
	}
	// Throttling and shedding, before the body is read (see
	// throttle.go). No check refuses a push after its append.
	platform := string(rcv.Platform)
	if g.throttle.full() {
		return g.refused(w, platform, ScopeInFlight, 0)
	}
	if scope, wait := g.throttle.admit(platform, g.ipKey(r), start); scope != "" {
		return g.refused(w, platform, scope, wait)
	}
	buf := g.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer g.bufs.Put(buf)
	if r.ContentLength > g.cfg.MaxBodyBytes {
		return fail(http.StatusRequestEntityTooLarge, ResultTooLarge, httperror.CodeTooLarge,
			fmt.Sprintf("body larger than %d bytes", g.cfg.MaxBodyBytes))
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes)); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return fail(http.StatusRequestEntityTooLarge, ResultTooLarge, httperror.CodeTooLarge,
				fmt.Sprintf("body larger than %d bytes", g.cfg.MaxBodyBytes))
		}
		return fail(http.StatusBadRequest, ResultBadRequest, httperror.CodeBadRequest, "could not read body")
	}
	body := buf.Bytes()
	// In flight from here to the answer: a slow sender holds no slot.
	defer g.throttle.leave()
	if !g.throttle.enter() {
		return g.refused(w, platform, ScopeInFlight, 0)
	}
	if err := rcv.Verify(r.Header.Get("Authorization"), body); err != nil {
		msg := "signature does not match the body"
		if errors.Is(err, marketplace.ErrMissingSignature) {
			msg = "missing signature in the Authorization header"
		}
		return fail(http.StatusUnauthorized, ResultUnauthorized, httperror.CodeUnauthorized, msg)
	}
	e, err := rcv.Parse(body, start.UTC())
	if err != nil {
		return fail(http.StatusBadRequest, ResultBadRequest, httperror.CodeBadRequest, err.Error())
	}
	// Only now, with the signature verified and the push parsed, may its
	// key be looked up: an unsigned request can neither probe nor mark.
	dedup := g.cfg.Dedup != nil && e.Key != ""
	if dedup {
		seen, err := g.cfg.Dedup.Seen(r.Context(), e.Key)
		if err != nil {
			g.log.Debug("idempotency filter incomplete; appending", "platform", e.Platform, "err", err)
		}
		if seen {
			w.WriteHeader(http.StatusOK)
			return http.StatusOK, ResultDuplicateFiltered
		}
	}
	if ok, wait := g.throttle.admitShop(platform, e.ShopID, start); !ok {
		return g.refused(w, platform, ScopeShop, wait)
	}
	data, err := e.Encode()
	if err != nil {
		return fail(http.StatusBadRequest, ResultBadRequest, httperror.CodeBadRequest, "push is not valid JSON")
	}
	class, result := "order", ResultAccepted
	if !e.Kind.IsOrder() {
		class, result = "notice", ResultNotice
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.PublishTimeout)
	defer cancel()
	res, err := g.pub.Publish(ctx, bus.Message{
		ID:      e.Key,
		Subject: string(e.Platform) + "." + class,
		Group:   e.Group(),
		Data:    data,
	})
	if err != nil {
		g.log.Warn("append failed; answered 503", "platform", e.Platform, "group", e.Group(), "err", err)
		return fail(http.StatusServiceUnavailable, ResultUnavailable, httperror.CodeUnavailable,
			"the push could not be stored; retry")
	}
	if res.Duplicate {
		result = ResultDuplicate
	}
	if dedup {
		// The append succeeded: from now on the key may shortcut. Marked
		// even if the client has gone (its retry will come); bounded by
		// the filter's own timeout.
		if err := g.cfg.Dedup.Mark(context.WithoutCancel(r.Context()), e.Key); err != nil {
			g.log.Debug("idempotency key kept in process only", "platform", e.Platform, "err", err)
		}
	}
	w.WriteHeader(http.StatusOK)
	return http.StatusOK, result
}

// refused answers a throttled or shed push and counts it.
func (g *Gateway) refused(w http.ResponseWriter, platform, scope string, wait time.Duration) (int, string) {
	g.throttle.throttled.WithLabelValues(platform, scope).Inc()
	result := ResultThrottled
	if scope == ScopeInFlight {
		result = ResultShed
	}
	return refuse(w, platform, scope, wait), result
}

// ipKey is the per-address bucket's key; empty when that bucket is off.
func (g *Gateway) ipKey(r *http.Request) string {
	if g.throttle.ip == nil {
		return ""
	}
	return clientip.Key(g.cfg.ClientIP(r))
}

func statusClass(code int) string {
	switch {
	case code < 300:
		return "2xx"
	case code < 500:
		return "4xx"
	}
	return "5xx"
}
