package sandbox

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/orderlane/orderlane/order"
)

// Policy is how a marketplace delivers one push.
type Policy struct {
	// Deadline is how long (wall time: the receiver is real) the
	// marketplace waits for the answer; a later answer is a failure.
	Deadline time.Duration `json:"deadline"`
	// Retries are the simulated waits before each retry after a failed
	// attempt; after the last the marketplace gives up.
	Retries []time.Duration `json:"retries"`
	// Only200 accepts only 200 (Lazada, TikTok); else any 2xx (Shopee).
	Only200 bool `json:"only_200"`
}

// DefaultPolicy is p's documented delivery: Lazada answers within 500 ms,
// retried every 30 min, 12 times; TikTok 3 s, retried after 2 min, 30 min,
// 3 h and 12 h, then never. Shopee does not document its retries: the
// sandbox uses 3 s (the community's figure) and 5 tries in all, retried
// after 1 min, 5 min, 30 min and 3 h.
func DefaultPolicy(p order.Platform) Policy {
	switch p {
	case order.Lazada:
		r := make([]time.Duration, 12)
		for i := range r {
			r[i] = 30 * time.Minute
		}
		return Policy{Deadline: 500 * time.Millisecond, Retries: r, Only200: true}
	case order.TikTok:
		return Policy{Deadline: 3 * time.Second, Only200: true,
			Retries: []time.Duration{2 * time.Minute, 30 * time.Minute, 3 * time.Hour, 12 * time.Hour}}
	}
	return Policy{Deadline: 3 * time.Second,
		Retries: []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 3 * time.Hour}}
}

// DeliveryOptions configure Deliver. Ratios are shares in [0, 1].
type DeliveryOptions struct {
	// Clock is the sale's clock (the one NewSale was given): the script is
	// walked on it, and waits between retries are scaled by its factor.
	// Required.
	Clock *Clock
	// Duplicates is the share of pushes sent a second time, byte for byte,
	// 1 s to 30 min (simulated) later.
	Duplicates float64
	// Lost is the share of pushes never sent. A marketplace with a
	// lost-push API (a Lose(Push) or Lose(Push) error method, Shopee's) is
	// handed them.
	Lost float64
	// Reorder is the share of pushes, among those whose order changes
	// again later, held back and sent after the order's next push.
	Reorder float64
	// TrackingFirst is the share of status pushes followed by a tracking
	// or package change of the same order that are held back until that
	// push went out (Shopee's code 4 before code 3).
	TrackingFirst float64
	// Concurrency bounds the requests in flight. Defaults to 16, at most
	// 1024. Pushes of one order are sent one at a time, in send order.
	Concurrency int
	// Policies override DefaultPolicy per marketplace.
	Policies map[order.Platform]Policy
	// Client sends the pushes. Defaults to a client with a connection
	// pool sized to Concurrency.
	Client *http.Client
	// Rand draws the scenario decisions. Defaults to a fixed seed.
	Rand *rand.Rand
	// Log receives a line per push given up or lost push refused.
	// Defaults to discard.
	Log *slog.Logger
}

// Report is what a delivery run did.
type Report struct {
	TimeFactor float64 `json:"time_factor"`
	// Start and End are the simulated times of the run, Wall its length.
	Start time.Time     `json:"start"`
	End   time.Time     `json:"end"`
	Wall  time.Duration `json:"wall"`
	// Platforms holds one entry per marketplace of the script.
	Platforms []PlatformReport `json:"platforms"`
	// Truth is the sale's ground truth at the end.
	Truth []ExpectedOrder `json:"truth"`
}

// Platform returns p's entry (zero if absent).
func (r *Report) Platform(p order.Platform) PlatformReport {
	for _, pr := range r.Platforms {
		if pr.Platform == p {
			return pr
		}
	}
	return PlatformReport{Platform: p}
}

// PlatformReport counts one marketplace's deliveries.
type PlatformReport struct {
	Platform order.Platform `json:"platform"`
	// Changes applied and pushes the marketplace rendered for them.
	Changes int `json:"changes"`
	Pushes  int `json:"pushes"`
	// Sent pushes went out at least once (Pushes - Lost).
	Sent int `json:"sent"`
	// Duplicates are the extra sends of the same bytes; Reordered the
	// pushes held back behind a later push of their order; TrackingFirst
	// the status pushes held behind a tracking or package push; Lost the
	// pushes never sent.
	Duplicates    int `json:"duplicates"`
	Reordered     int `json:"reordered"`
	TrackingFirst int `json:"tracking_first"`
	Lost          int `json:"lost"`
	// Attempts are HTTP requests made, Failed those not accepted in time,
	// Retries the attempts after a failure, Delivered the sends
	// (duplicates included) finally accepted, GaveUp those never accepted.
	Attempts  int `json:"attempts"`
	Failed    int `json:"failed"`
	Retries   int `json:"retries"`
	Delivered int `json:"delivered"`
	GaveUp    int `json:"gave_up"`
	// SuccessRate is the share of attempts accepted (1 without attempts).
	SuccessRate float64 `json:"success_rate"`
	// Disabled says the marketplace would have disabled the receiver
	// (Shopee: more than 600 pushes in 6 h with success under 30 %;
	// Lazada: failure rate over 50 %, taken over the run; TikTok documents
	// no rule) and Warned that Shopee would have warned (success under
	// 70 % over such a window).
	Disabled bool `json:"disabled"`
	Warned   bool `json:"warned"`
}

// Shopee's and Lazada's rules for disabling a push receiver.
const (
	shopeeWindow      = 6 * time.Hour
	shopeeWindowMin   = 600
	shopeeDisableRate = 0.30
	shopeeWarnRate    = 0.70
	lazadaDisableFail = 0.50
)

// loser is a marketplace that keeps lost pushes (Shopee's lost-push API);
// errLoser is one whose Lose can refuse (a full queue).
type (
	loser    interface{ Lose(Push) }
	errLoser interface{ Lose(Push) error }
)

// delivery is one send of a push (a duplicate is another delivery).
type delivery struct {
	push    Push
	key     order.Key
	url     string
	policy  Policy
	attempt int // retries so far
}

// job is a step of the script or an attempt of a delivery, due at a
// simulated time.
type job struct {
	due  time.Time
	seq  uint64
	step int // index into the script, or -1
	d    *delivery
}

type jobs []job

func (h jobs) Len() int { return len(h) }
func (h jobs) Less(i, j int) bool {
	if c := h[i].due.Compare(h[j].due); c != 0 {
		return c < 0
	}
	return h[i].seq < h[j].seq
}
func (h jobs) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *jobs) Push(x any)   { *h = append(*h, x.(job)) }
func (h *jobs) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// result is the outcome of one attempt.
type result struct {
	d    *delivery
	done chan struct{}
	at   time.Time // simulated time of the attempt
	ok   bool
}

type attemptRec struct {
	at time.Time
	ok bool
}

// engine is one Deliver run. Everything but the attempt goroutines runs
// on Deliver's goroutine.
type engine struct {
	ctx     context.Context
	script  *Script
	markets map[order.Platform]Marketplace
	opts    DeliveryOptions
	clock   *Clock
	urls    map[order.Platform]string
	stats   map[order.Platform]*PlatformReport
	records map[order.Platform][]attemptRec

	queue    jobs
	seq      uint64
	next     []int // next step index of the same order, -1 if none
	held     map[order.Key][]*delivery
	chains   map[order.Key]chan struct{}
	sem      chan struct{}
	results  chan result
	inflight int
}

// Deliver walks script on opts.Clock: at each step's time it applies the
// change to the sale (so the fakes' APIs serve the new state), asks the
// order's marketplace for its pushes and delivers them to target(p) as the
// marketplace would (see Policy, DefaultPolicy and the scenario ratios of
// DeliveryOptions). Steps of a marketplace absent from markets are applied
// without pushes. It returns when every delivery is accepted or given up,
// or ctx ends (then with ctx's error and the report so far). An error from
// a marketplace's Pushes stops the run.
func Deliver(ctx context.Context, script *Script, markets map[order.Platform]Marketplace, target func(p order.Platform) string, opts DeliveryOptions) (Report, error) {
	if opts.Clock == nil {
		return Report{}, errors.New("sandbox: deliver: no clock")
	}
	for name, r := range map[string]float64{"duplicates": opts.Duplicates, "lost": opts.Lost, "reorder": opts.Reorder, "tracking_first": opts.TrackingFirst} {
		if !(r >= 0 && r <= 1) {
			return Report{}, fmt.Errorf("sandbox: deliver: %s ratio %v is not in [0, 1]", name, r)
		}
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	opts.Concurrency = min(opts.Concurrency, 1024)
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(1, 2))
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = opts.Concurrency
		opts.Client = &http.Client{Transport: tr}
		defer tr.CloseIdleConnections()
	}
	e := &engine{
		ctx: ctx, script: script, markets: markets, opts: opts, clock: opts.Clock,
		urls: map[order.Platform]string{}, stats: map[order.Platform]*PlatformReport{},
		records: map[order.Platform][]attemptRec{},
		held:    map[order.Key][]*delivery{}, chains: map[order.Key]chan struct{}{},
		sem: make(chan struct{}, opts.Concurrency), results: make(chan result, opts.Concurrency),
	}
	for p := range markets {
		u := target(p)
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return Report{}, fmt.Errorf("sandbox: deliver: target of %s %q is not an http(s) URL", p, u)
		}
		e.urls[p] = u
	}
	e.link()
	for i, st := range script.Steps {
		p := st.Change.Order.Platform
		if e.stats[p] == nil {
			e.stats[p] = &PlatformReport{Platform: p}
		}
		e.schedule(job{due: st.At, step: i})
	}
	wallStart, simStart := time.Now(), e.clock.Now()
	err := e.run()
	return e.report(simStart, time.Since(wallStart)), err
}

// link finds each step's next step of the same order.
func (e *engine) link() {
	e.next = make([]int, len(e.script.Steps))
	last := map[order.Key]int{}
	for i := len(e.script.Steps) - 1; i >= 0; i-- {
		k := keyOf(&e.script.Steps[i].Change.Order)
		e.next[i] = -1
		if j, ok := last[k]; ok {
			e.next[i] = j
		}
		last[k] = i
	}
}

func keyOf(o *Order) order.Key {
	return order.Key{Platform: o.Platform, ShopID: o.ShopID, OrderID: o.OrderID}
}

// schedule queues j (a step when j.d is nil).
func (e *engine) schedule(j job) {
	if j.d != nil {
		j.step = -1
	}
	e.seq++
	j.seq = e.seq
	heap.Push(&e.queue, j)
}

// run is the loop: start what is due, collect results, sleep until the
// next due job.
func (e *engine) run() error {
	var err error
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if err == nil && e.ctx.Err() != nil {
			err = e.ctx.Err()
		}
		if err != nil {
			// Stop starting work; wait for the attempts in flight.
			if e.inflight == 0 {
				return err
			}
			e.collect(<-e.results)
			continue
		}
		now := e.clock.Now()
		for len(e.queue) > 0 && !e.queue[0].due.After(now) && err == nil {
			j := heap.Pop(&e.queue).(job)
			if j.d != nil {
				e.launch(j.d)
			} else {
				err = e.step(j.step)
			}
		}
		if err != nil {
			continue
		}
		if len(e.queue) == 0 && e.inflight == 0 {
			return nil
		}
		var wake <-chan time.Time
		if len(e.queue) > 0 {
			timer.Reset(max(e.clock.Until(e.queue[0].due), 0))
			wake = timer.C
		}
		select {
		case r := <-e.results:
			e.collect(r)
		case <-wake:
		case <-e.ctx.Done():
		}
		timer.Stop() // Go 1.23+: no stale tick survives Stop
	}
}

// step applies script step i and starts its pushes.
func (e *engine) step(i int) error {
	st := &e.script.Steps[i]
	c := st.Change
	k := keyOf(&c.Order)
	e.script.Sale.Put(c.Order)
	ps := e.stats[k.Platform]
	ps.Changes++
	m := e.markets[k.Platform]
	if m == nil {
		return nil
	}
	pushes, err := m.Pushes(c)
	if err != nil {
		return fmt.Errorf("sandbox: deliver: %s pushes for order %s: %w", k.Platform, k.OrderID, err)
	}
	released := e.held[k]
	delete(e.held, k)
	rng := e.opts.Rand
	now := e.clock.Now()
	sent := false
	for _, p := range pushes {
		ps.Pushes++
		if rng.Float64() < e.opts.Lost {
			ps.Lost++
			switch l := m.(type) {
			case loser:
				l.Lose(p)
			case errLoser:
				if err := l.Lose(p); err != nil {
					e.opts.Log.Warn("sandbox: lost push not kept", "platform", k.Platform, "order_id", k.OrderID, "err", err)
				}
			}
			continue
		}
		ps.Sent++
		d := &delivery{push: p, key: k, url: e.urls[k.Platform], policy: e.policy(k.Platform)}
		if rng.Float64() < e.opts.Duplicates {
			ps.Duplicates++
			dup := *d
			later := time.Duration(1+rng.Int64N(int64(30*time.Minute/time.Second))) * time.Second
			e.schedule(job{due: now.Add(later), d: &dup})
		}
		if n := e.next[i]; n >= 0 {
			nextKind := e.script.Steps[n].Change.Kind
			if p.Kind == order.KindStatus && (nextKind == order.KindTracking || nextKind == order.KindPackage) &&
				rng.Float64() < e.opts.TrackingFirst {
				ps.TrackingFirst++
				e.held[k] = append(e.held[k], d)
				continue
			}
			if rng.Float64() < e.opts.Reorder {
				ps.Reordered++
				e.held[k] = append(e.held[k], d)
				continue
			}
		}
		e.launch(d)
		sent = true
	}
	if sent || e.next[i] < 0 {
		// The held pushes go out after this step's: later than a push
		// that followed them, which is the point of holding them.
		for _, d := range released {
			e.launch(d)
		}
	} else {
		// Nothing went out: keep holding, the newer pushes first, so a
		// status push held behind a tracking push that is itself held
		// still follows it.
		e.held[k] = append(e.held[k], released...)
	}
	return nil
}

func (e *engine) policy(p order.Platform) Policy {
	if pol, ok := e.opts.Policies[p]; ok {
		return pol
	}
	return DefaultPolicy(p)
}

// launch starts an attempt of d behind the order's previous attempt. It
// first takes one of the Concurrency slots, collecting results while it
// waits, so at most Concurrency attempt goroutines exist. An earlier
// attempt of the order holds a slot already and signals done before it
// reports, so a chain never waits on a slot or on this loop.
func (e *engine) launch(d *delivery) {
	for acquired := false; !acquired; {
		select {
		case e.sem <- struct{}{}:
			acquired = true
		case r := <-e.results:
			e.collect(r)
		}
	}
	prev := e.chains[d.key]
	done := make(chan struct{})
	e.chains[d.key] = done
	e.inflight++
	go func() {
		if prev != nil {
			<-prev
		}
		at := e.clock.Now()
		ok := e.attempt(d)
		close(done)
		<-e.sem
		e.results <- result{d: d, done: done, at: at, ok: ok}
	}()
}

// attempt POSTs the push once and reports whether it was accepted in time.
func (e *engine) attempt(d *delivery) bool {
	ctx, cancel := context.WithTimeout(e.ctx, d.policy.Deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.push.Body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	h := d.push.Header
	if h == "" {
		h = "Authorization"
	}
	req.Header.Set(h, d.push.Signature)
	resp, err := e.opts.Client.Do(req) // #nosec G704 -- the operator's own receiver
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if err != nil {
		return false // the answer did not finish within the deadline
	}
	if d.policy.Only200 {
		return resp.StatusCode == http.StatusOK
	}
	return resp.StatusCode/100 == 2
}

// collect records an attempt's outcome and schedules its retry.
func (e *engine) collect(r result) {
	e.inflight--
	if e.chains[r.d.key] == r.done {
		delete(e.chains, r.d.key)
	}
	p := r.d.key.Platform
	ps := e.stats[p]
	ps.Attempts++
	e.records[p] = append(e.records[p], attemptRec{at: r.at, ok: r.ok})
	switch {
	case r.ok:
		ps.Delivered++
	case r.d.attempt < len(r.d.policy.Retries):
		ps.Failed++
		ps.Retries++
		wait := r.d.policy.Retries[r.d.attempt]
		r.d.attempt++
		e.schedule(job{due: e.clock.Now().Add(wait), d: r.d})
	default:
		ps.Failed++
		ps.GaveUp++
		e.opts.Log.Warn("sandbox: push given up", "platform", p, "shop_id", r.d.key.ShopID,
			"order_id", r.d.key.OrderID, "kind", r.d.push.Kind, "attempts", r.d.attempt+1)
	}
}

func (e *engine) report(simStart time.Time, wall time.Duration) Report {
	rep := Report{TimeFactor: e.clock.Factor(), Start: simStart, End: e.clock.Now(), Wall: wall,
		Truth: Expected(e.script.Sale)}
	for _, p := range order.Platforms {
		ps := e.stats[p]
		if ps == nil {
			continue
		}
		recs := e.records[p]
		ps.SuccessRate = 1
		if ps.Attempts > 0 {
			ps.SuccessRate = float64(ps.Attempts-ps.Failed) / float64(ps.Attempts)
		}
		switch p {
		case order.Shopee:
			ps.Disabled, ps.Warned = shopeeVerdict(recs)
		case order.Lazada:
			ps.Disabled = ps.Attempts > 0 && float64(ps.Failed)/float64(ps.Attempts) > lazadaDisableFail
		}
		rep.Platforms = append(rep.Platforms, *ps)
	}
	return rep
}

// shopeeVerdict applies Shopee's rule to every 6 h window starting at an
// attempt: more than 600 pushes and under 30 % success disables (under
// 70 % warns).
func shopeeVerdict(recs []attemptRec) (disabled, warned bool) {
	recs = slices.Clone(recs)
	slices.SortFunc(recs, func(a, b attemptRec) int { return a.at.Compare(b.at) })
	ok := make([]int, len(recs)+1) // prefix sums of successes
	for i, r := range recs {
		ok[i+1] = ok[i]
		if r.ok {
			ok[i+1]++
		}
	}
	j := 0
	for i := range recs {
		for j < len(recs) && recs[j].at.Before(recs[i].at.Add(shopeeWindow)) {
			j++
		}
		n := j - i
		if n <= shopeeWindowMin {
			continue
		}
		rate := float64(ok[j]-ok[i]) / float64(n)
		disabled = disabled || rate < shopeeDisableRate
		warned = warned || rate < shopeeWarnRate
	}
	return disabled, warned
}
