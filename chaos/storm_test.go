package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// storm is the push load: senders that each take a new order, send its
// pushes one after the other, every one until it is answered 200 (as a
// marketplace retries), some twice, until told to stop.
type storm struct {
	base   string
	client *http.Client
	gen    *generator
	dup    float64       // share of pushes sent a second time once acknowledged
	giveUp time.Duration // a push still refused after this long is given up

	stop chan struct{}
	wg   sync.WaitGroup

	mu    sync.Mutex
	plans []*plan
	codes map[string]int // refusals and failures by status code or error

	acked, dupAcked, retries, givenUp, bad atomic.Int64
}

func startStorm(base string, gen *generator, senders int, dup float64) *storm {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = senders
	s := &storm{
		base: base, client: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		gen: gen, dup: dup, giveUp: 2 * time.Minute,
		stop: make(chan struct{}), codes: map[string]int{},
	}
	for range senders {
		s.wg.Add(1)
		go s.sender()
	}
	return s
}

func (s *storm) sender() {
	defer s.wg.Done()
	rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		pl := s.gen.next()
		s.mu.Lock()
		s.plans = append(s.plans, pl)
		s.mu.Unlock()
		for i, p := range pl.pushes {
			if !s.deliver(p) {
				break // given up: the order's later pushes are not sent
			}
			pl.acked[i] = true
			s.acked.Add(1)
			if rnd.Float64() < s.dup && s.deliver(p) {
				s.dupAcked.Add(1)
			}
		}
	}
}

// deliver sends p until it is answered 200 (true), or answered what a
// retry cannot change, or giveUp passes (false).
func (s *storm) deliver(p *push) bool {
	began := time.Now()
	backoff := 20 * time.Millisecond
	for {
		code, err := s.post(p)
		if err == nil && code == http.StatusOK {
			return true
		}
		why := reason(code, err)
		s.mu.Lock()
		s.codes[why]++
		s.mu.Unlock()
		if err == nil && code != http.StatusServiceUnavailable && code != http.StatusTooManyRequests {
			s.bad.Add(1) // 400, 401, ...: a bug, never retried away
			return false
		}
		if time.Since(began) > s.giveUp {
			s.givenUp.Add(1)
			return false
		}
		s.retries.Add(1)
		time.Sleep(backoff) // a marketplace's retry delay
		backoff = min(2*backoff, time.Second)
	}
}

func (s *storm) post(p *push) (int, error) {
	req, err := http.NewRequest(http.MethodPost, s.base+p.path, bytes.NewReader(p.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", p.sig)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// halt stops the senders after their current order and waits for them.
func (s *storm) halt() []*plan {
	close(s.stop)
	s.wg.Wait()
	s.client.CloseIdleConnections()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.plans
}

// failures summarises the refusals and failed requests.
func (s *storm) failures() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.codes))
	for k := range s.codes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, s.codes[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func reason(code int, err error) string {
	switch {
	case err == nil:
		return fmt.Sprint(code)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "reset"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "network"
}
