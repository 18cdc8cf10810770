package simulate

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Delivery retries, as a marketplace makes them: 503 and 429 answers (and
// requests that got no answer) are retried after a short, doubling backoff,
// up to maxTries tries in all.
const (
	maxTries     = 5
	retryBackoff = 50 * time.Millisecond
)

// errNetwork is the Report.Errors key of requests that got no HTTP answer.
const errNetwork = "network"

// sendStats counts the send phase. The counters are read live by the
// progress line.
type sendStats struct {
	total      int64        // deliveries planned
	sent       atomic.Int64 // deliveries finished (accepted or given up)
	accepted   atomic.Int64 // deliveries answered 2xx
	failed     atomic.Int64 // deliveries never accepted
	duplicates atomic.Int64 // duplicate deliveries finished
	retries    atomic.Int64 // extra tries after a 503, 429 or no answer
	errors     atomic.Int64 // non-2xx answers and failed requests

	mu     sync.Mutex
	byCode map[string]int // errors by status code, or errNetwork
}

func (s *sendStats) addError(key string) {
	s.errors.Add(1)
	s.mu.Lock()
	s.byCode[key]++
	s.mu.Unlock()
}

// sender delivers order plans to the server's webhook routes.
type sender struct {
	client  *http.Client
	baseURL string
	stats   *sendStats
}

// run delivers every plan: concurrency senders, each taking one order at a
// time and sending its deliveries in sequence. It returns the latency of
// every answered request.
func (s *sender) run(ctx context.Context, plans []*orderPlan, concurrency int) []time.Duration {
	next := make(chan *orderPlan)
	lat := make([][]time.Duration, concurrency)
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Go(func() {
			for plan := range next {
				lat[w] = s.deliverOrder(ctx, plan, lat[w])
			}
		})
	}
feed:
	for _, plan := range plans {
		select {
		case next <- plan:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return all
}

// deliverOrder sends plan's deliveries in sequence and records their
// outcome in plan.
func (s *sender) deliverOrder(ctx context.Context, plan *orderPlan, lat []time.Duration) []time.Duration {
	for _, d := range plan.sends {
		if ctx.Err() != nil {
			return lat
		}
		var ok bool
		ok, lat = s.deliver(ctx, d.push, time.Time{}, lat)
		if ctx.Err() != nil {
			return lat
		}
		s.record(plan, d, ok)
	}
	return lat
}

// record counts one finished delivery of plan.
func (s *sender) record(plan *orderPlan, d delivery, ok bool) {
	s.stats.sent.Add(1)
	plan.sent++
	if d.duplicate {
		s.stats.duplicates.Add(1)
	}
	if !ok {
		s.stats.failed.Add(1)
		plan.failed++
		return
	}
	s.stats.accepted.Add(1)
	if d.push.final {
		plan.finalAccepted = true
	}
	if !d.duplicate {
		plan.acked = append(plan.acked, d.push.key)
	}
}

// maxOpenInFlight bounds the requests an open-loop run keeps open; past it
// the schedule slips (and the slip shows in the latencies, which are
// measured from the intended send times).
const maxOpenInFlight = 4096

// openWindow is how many orders an open-loop run interleaves: one delivery
// of each in turn, so two deliveries of one order are about
// openWindow/Rate seconds apart.
const openWindow = 2000

// runOpen delivers every plan open loop at rate deliveries per second.
// Each order's deliveries still go in sequence: one waits for the
// previous one of its order to end (and that wait counts in its latency).
func (s *sender) runOpen(ctx context.Context, plans []*orderPlan, rate float64) []time.Duration {
	type slot struct {
		plan *orderPlan
		i    int
	}
	var slots []slot
	for c := 0; c < len(plans); c += openWindow {
		chunk := plans[c:min(c+openWindow, len(plans))]
		for round, more := 0, true; more; round++ {
			more = false
			for _, p := range chunk {
				if round < len(p.sends) {
					slots = append(slots, slot{p, round})
					more = true
				}
			}
		}
	}
	var (
		mu  sync.Mutex
		lat = make([]time.Duration, 0, len(slots))
		wg  sync.WaitGroup
		sem = make(chan struct{}, maxOpenInFlight)
	)
	interval := float64(time.Second) / rate
	start := time.Now()
	for k, sl := range slots {
		intended := start.Add(time.Duration(float64(k) * interval))
		if d := time.Until(intended); d > 0 && !sleep(ctx, d) {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		prev, done := sl.plan.last, make(chan struct{})
		sl.plan.last = done
		wg.Go(func() {
			defer func() { <-sem; close(done) }()
			if prev != nil {
				<-prev
			}
			d := sl.plan.sends[sl.i]
			ok, one := s.deliver(ctx, d.push, intended, nil)
			if ctx.Err() != nil {
				return
			}
			s.record(sl.plan, d, ok)
			mu.Lock()
			lat = append(lat, one...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return lat
}

// deliver sends one push, retrying 503, 429 and unanswered requests, and
// reports whether it was accepted (2xx). Each answered try's latency is
// appended to lat, measured from the try's start, or, when intended is set
// (open loop), the final answer's from the intended send time.
func (s *sender) deliver(ctx context.Context, p *push, intended time.Time, lat []time.Duration) (bool, []time.Duration) {
	backoff := retryBackoff
	for try := 1; ; try++ {
		start := time.Now()
		code, err := s.post(ctx, p)
		done := err == nil && (code < 300 || (code != http.StatusServiceUnavailable && code != http.StatusTooManyRequests) || try == maxTries)
		switch {
		case err != nil:
		case intended.IsZero():
			lat = append(lat, time.Since(start))
		case done:
			lat = append(lat, time.Since(intended))
		}
		if ctx.Err() != nil {
			return false, lat
		}
		if err == nil && code >= 200 && code < 300 {
			return true, lat
		}
		retry := err != nil || code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests
		if err != nil {
			s.stats.addError(errNetwork)
		} else {
			s.stats.addError(strconv.Itoa(code))
		}
		if !retry || try == maxTries {
			return false, lat
		}
		s.stats.retries.Add(1)
		if !sleep(ctx, backoff) {
			return false, lat
		}
		backoff *= 2
	}
}

// post sends p once and returns the answer's status code.
func (s *sender) post(ctx context.Context, p *push) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.baseURL+p.path, bytes.NewReader(p.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", p.signature)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	// Drain (a little of) the body so that the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// sleep waits for d or until ctx is done, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
