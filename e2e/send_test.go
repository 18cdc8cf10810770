package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// newClient returns an HTTP client for up to conns concurrent callers of
// the server (keep-alive, no proxy, 10 s per request).
func newClient(conns int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConnsPerHost = conns
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// post sends p once and returns the status code of the answer. A push is
// acknowledged when the answer is 200.
func post(ctx context.Context, c *http.Client, base string, p *push) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+p.path, bytes.NewReader(p.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", p.sig)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body) // the status line is the answer
	return resp.StatusCode, nil
}

// sendRun is one send phase: concurrent senders, each delivering the
// pushes of its own orders one at a time and in order, as a marketplace
// does per order, and stopping at the first push not answered 200.
type sendRun struct {
	acked    atomic.Int64 // pushes answered 200
	inflight atomic.Int64 // requests sent and not answered yet

	// After mark, ackedAcross counts the requests sent before the mark and
	// answered 200 after it.
	marked      atomic.Bool
	ackedAcross atomic.Int64

	tick chan struct{} // nudged (without blocking) after every 200
	done chan struct{} // closed when every sender has stopped

	mu       sync.Mutex
	failures map[string]int // unacknowledged sends, by reason
}

// startSenders starts one sender per list of orders. The senders record
// what they sent in the plans (orderPlan.sent and acked), and start each
// order after its last acknowledged push.
func startSenders(ctx context.Context, c *http.Client, base string, senders [][]*orderPlan) *sendRun {
	r := &sendRun{tick: make(chan struct{}, 1), done: make(chan struct{}), failures: map[string]int{}}
	var wg sync.WaitGroup
	for _, orders := range senders {
		wg.Go(func() { r.sender(ctx, c, base, orders) })
	}
	go func() {
		wg.Wait()
		close(r.done)
	}()
	return r
}

func (r *sendRun) sender(ctx context.Context, c *http.Client, base string, orders []*orderPlan) {
	for _, o := range orders {
		// Resume after the last acknowledged push: a marketplace retries
		// the push that got no 200.
		for i := o.acked; i < len(o.pushes); i++ {
			p := o.pushes[i]
			if ctx.Err() != nil {
				return
			}
			o.sent = max(o.sent, i+1)
			before := !r.marked.Load()
			r.inflight.Add(1)
			code, err := post(ctx, c, base, p)
			r.inflight.Add(-1)
			if err != nil || code != http.StatusOK {
				r.fail(code, err, before && r.marked.Load())
				return
			}
			o.acked++
			r.acked.Add(1)
			if before && r.marked.Load() {
				r.ackedAcross.Add(1)
			}
			select {
			case r.tick <- struct{}{}:
			default:
			}
		}
	}
}

// fail counts an unacknowledged send; across says it was started before the
// mark and failed after it.
func (r *sendRun) fail(code int, err error, across bool) {
	reason := "HTTP " + strconv.Itoa(code)
	if err != nil {
		reason = errReason(err)
	}
	if across {
		reason += " (started before the mark)"
	}
	r.mu.Lock()
	r.failures[reason]++
	r.mu.Unlock()
}

// mark starts counting ackedAcross; it returns the requests in flight.
func (r *sendRun) mark() int64 {
	n := r.inflight.Load()
	r.marked.Store(true)
	return n
}

// waitAcked waits until at least n pushes have been acknowledged.
func (r *sendRun) waitAcked(n int64, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for r.acked.Load() < n {
		select {
		case <-r.tick:
		case <-r.done:
			if r.acked.Load() >= n {
				return nil
			}
			return fmt.Errorf("senders stopped after %d acknowledged pushes, before %d (failures: %s)", r.acked.Load(), n, r.failureSummary())
		case <-deadline.C:
			return fmt.Errorf("only %d of %d pushes acknowledged after %s (failures: %s)", r.acked.Load(), n, timeout, r.failureSummary())
		}
	}
	return nil
}

// wait waits until every sender has stopped.
func (r *sendRun) wait(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-r.done:
		return nil
	case <-t.C:
		return fmt.Errorf("senders still running after %s", timeout)
	}
}

// failureSummary lists the unacknowledged sends by reason ("none" when
// every send was acknowledged). Call it after wait for the final count.
func (r *sendRun) failureSummary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.failures) == 0 {
		return "none"
	}
	var parts []string
	for k, n := range r.failures {
		parts = append(parts, fmt.Sprintf("%s: %d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// errReason names a failed request's error briefly.
func errReason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case strings.Contains(err.Error(), "server closed idle connection"):
		return "server closed idle connection"
	}
	return err.Error()
}
