// Package apiwire is what the marketplace API clients share: per-key
// client-side rate limits, and one request loop that retries 429, 5xx and
// connection failures with jittered exponential backoff (honouring
// Retry-After), bounds the response size, and stops when ctx is done.
package apiwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/orderlane/orderlane/marketplace"
)

// Limiters holds one token bucket per key ("api path|shop"). The zero
// rate means unlimited.
type Limiters struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*rate.Limiter
}

// NewLimiters allows perSecond requests per key with the given burst
// (at least 1). perSecond <= 0 turns limiting off.
func NewLimiters(perSecond float64, burst int) *Limiters {
	return &Limiters{rate: rate.Limit(perSecond), burst: max(burst, 1), m: map[string]*rate.Limiter{}}
}

// Wait blocks until key may send a request, or ctx is done.
func (l *Limiters) Wait(ctx context.Context, key string) error {
	if l == nil || l.rate <= 0 {
		return nil
	}
	l.mu.Lock()
	lim, ok := l.m[key]
	if !ok {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.m[key] = lim
	}
	l.mu.Unlock()
	if err := lim.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The limiter refuses at once when ctx's deadline comes before the
		// next token: that is the deadline, as callers match it.
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return nil
}

// Doer sends requests with retries.
type Doer struct {
	HTTP *http.Client
	// Limits is applied per key before every attempt; nil is unlimited.
	Limits *Limiters
	// MaxAttempts is how many times a request is sent at most (>= 1).
	MaxAttempts int
	// BackoffMin and BackoffMax bound the jittered exponential backoff.
	BackoffMin, BackoffMax time.Duration
	// MaxBody caps a response body; a longer one is an error.
	MaxBody int64
}

// Defaults for a Doer's zero fields.
const (
	DefaultMaxAttempts = 4
	DefaultBackoffMin  = 200 * time.Millisecond
	DefaultBackoffMax  = 5 * time.Second
	DefaultMaxBody     = 8 << 20
	DefaultTimeout     = 15 * time.Second
)

func (d *Doer) defaults() Doer {
	c := *d
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: DefaultTimeout}
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = max(DefaultBackoffMax, c.BackoffMin)
	}
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	return c
}

// Response is one answer as read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends the request build makes (called once per attempt, so that
// timestamps and signatures are fresh), and hands each answer to check.
// check returns nil to accept it, an error wrapping
// marketplace.ErrRateLimited or marketplace.ErrTemporary to retry it, or
// any other error to give up at once. Transport errors are retried as
// ErrTemporary; ctx ends the loop with ctx's error. After the last attempt
// Do returns check's (or the transport's) last error. The request URL a
// transport (or build) error quotes has its query values redacted
// (RedactURL): they carry tokens, signatures and secrets.
func (d *Doer) Do(ctx context.Context, key string, build func() (*http.Request, error), check func(Response) error) (Response, error) {
	c := d.defaults()
	var last error
	for attempt := 1; ; attempt++ {
		if err := c.Limits.Wait(ctx, key); err != nil {
			return Response{}, joinCtx(err, last)
		}
		req, err := build()
		if err != nil {
			return Response{}, RedactURL(err)
		}
		resp, err := c.send(req.WithContext(ctx))
		err = RedactURL(err)
		var wait time.Duration
		switch {
		case err != nil && ctx.Err() != nil:
			return Response{}, joinCtx(ctx.Err(), last)
		case err != nil:
			last = fmt.Errorf("%w: %w", marketplace.ErrTemporary, err)
		default:
			last = check(resp)
			if last == nil {
				return resp, nil
			}
			if !errors.Is(last, marketplace.ErrTemporary) && !errors.Is(last, marketplace.ErrRateLimited) {
				return resp, last
			}
			wait = retryAfter(resp.Header)
		}
		if attempt >= c.MaxAttempts {
			return resp, last
		}
		wait = max(wait, Backoff(c.BackoffMin, c.BackoffMax, attempt))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Response{}, joinCtx(ctx.Err(), last)
		case <-t.C:
		}
	}
}

func (c *Doer) send(req *http.Request) (Response, error) {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.MaxBody+1))
	if err != nil {
		return Response{}, err
	}
	if int64(len(body)) > c.MaxBody {
		return Response{}, fmt.Errorf("response body over %d bytes", c.MaxBody)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// RedactURL replaces every query value in the URL of the *url.Error in
// err's chain with "REDACTED", keeping the names ("access_token=REDACTED"),
// so that neither the error's text nor the *url.Error a caller finds with
// errors.As carries a token, a signature or a secret. It changes that
// *url.Error in place and returns err, so call it before anything wraps
// err: a wrapper formatted earlier keeps the old text. Do calls it on
// every transport and build error.
func RedactURL(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		ue.URL = "(unparsable request URL)"
		return err
	}
	if u.RawQuery != "" {
		q, qerr := url.ParseQuery(u.RawQuery)
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		u.RawQuery = q.Encode()
		if qerr != nil {
			u.RawQuery = "REDACTED"
		}
	}
	u.User, u.Fragment, u.RawFragment = nil, "", ""
	ue.URL = u.String()
	return err
}

func joinCtx(ctxErr, last error) error {
	if last == nil {
		return ctxErr
	}
	return fmt.Errorf("%w (last failure: %w)", ctxErr, last)
}

// retryAfter reads a Retry-After in seconds (capped at a minute).
func retryAfter(h http.Header) time.Duration {
	if h == nil {
		return 0
	}
	s, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || s <= 0 {
		return 0
	}
	return min(time.Duration(s)*time.Second, time.Minute)
}

// Backoff is the delay before retry number attempt (from 1): half fixed,
// half jitter, doubling from lo up to hi.
func Backoff(lo, hi time.Duration, attempt int) time.Duration {
	ceiling := lo
	for i := 1; i < attempt && ceiling < hi; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, hi)
	return ceiling/2 + rand.N(ceiling/2+1)
}

// StatusKind classifies an HTTP status the marketplace's envelope did not
// explain: 429 rate limited, 5xx temporary, 401/403 auth, else nil.
func StatusKind(status int) error {
	switch {
	case status == http.StatusTooManyRequests:
		return marketplace.ErrRateLimited
	case status >= 500:
		return marketplace.ErrTemporary
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return marketplace.ErrAuth
	}
	return nil
}
