package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/marketplace/shopee"
)

// floodOptions configures `orderlane bench --flood-rate`: the throttling
// load test. It runs two phases of the same length against a running
// server: a baseline with only the measured pushes (signed Shopee pushes
// of distinct orders, open loop at Rate), then the same pushes with a
// flood beside them at FloodRate. It reports the admitted pushes' latency
// in each phase and the server's memory (from its /metrics) before, at
// the peak and after.
type floodOptions struct {
	BaseURL, Token string
	Shopee         config.Shopee
	Rate           float64       // measured pushes a second
	FloodRate      float64       // flood requests a second
	Kind           string        // "forged": bad signatures; "signed": valid pushes of one shop
	Duration       time.Duration // per phase
}

// floodPhase is one phase's figures.
type floodPhase struct {
	Sent      int64            `json:"sent"`
	Admitted  int64            `json:"admitted"`
	ByCode    map[string]int64 `json:"by_code"`
	P50MS     float64          `json:"admitted_p50_ms"`
	P99MS     float64          `json:"admitted_p99_ms"`
	MaxMS     float64          `json:"admitted_max_ms"`
	FloodSent int64            `json:"flood_sent,omitempty"`
	// FloodByCode counts the flood's answers by status ("network": no
	// answer; "skipped": the client could not keep up and did not send).
	FloodByCode map[string]int64 `json:"flood_by_code,omitempty"`
	// RSS is the server's resident memory at the start, the peak sampled
	// during the phase, and the end, in MiB.
	RSSStartMiB float64 `json:"rss_start_mib"`
	RSSPeakMiB  float64 `json:"rss_peak_mib"`
	RSSEndMiB   float64 `json:"rss_end_mib"`
	HeapPeakMiB float64 `json:"heap_peak_mib"`
	// CPUSeconds is the server's CPU time over the phase
	// (process_cpu_seconds_total).
	CPUSeconds float64 `json:"server_cpu_seconds"`
	// ServerP99MS is the upper bound of the orderlane_push_ack_seconds
	// bucket holding the 99th percentile of the phase's 200 answers, as
	// the server measured them (without the client's own delays).
	ServerP99MS float64 `json:"server_admitted_p99_le_ms"`
}

type floodResult struct {
	Options  floodOptions `json:"options"`
	Baseline floodPhase   `json:"baseline"`
	Flood    floodPhase   `json:"flood"`
	// P99Ratio is the flood phase's admitted p99 over the baseline's.
	P99Ratio float64 `json:"p99_ratio"`
}

func runFlood(ctx context.Context, o floodOptions, asJSON bool, out io.Writer) error {
	if o.Kind != "forged" && o.Kind != "signed" {
		return fmt.Errorf("bench: --flood-kind %q: want forged or signed", o.Kind)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 4096, 4096
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	f := &flooder{o: o, client: client}
	res := floodResult{Options: o}
	var err error
	fmt.Fprintf(progressOut, "baseline: %.0f pushes/s for %s\n", o.Rate, o.Duration)
	if res.Baseline, err = f.phase(ctx, "base", 0); err != nil {
		return err
	}
	fmt.Fprintf(progressOut, "flood: %.0f pushes/s beside %.0f %s requests/s for %s\n", o.Rate, o.FloodRate, o.Kind, o.Duration)
	if res.Flood, err = f.phase(ctx, "flood", o.FloodRate); err != nil {
		return err
	}
	if res.Baseline.P99MS > 0 {
		res.P99Ratio = math.Round(res.Flood.P99MS/res.Baseline.P99MS*100) / 100
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	for _, p := range []struct {
		name string
		ph   floodPhase
	}{{"baseline", res.Baseline}, {"flood", res.Flood}} {
		fmt.Fprintf(out, "%-9s measured %d sent, %d admitted (%v); admitted p50 %.2f ms p99 %.2f ms max %.2f ms (server: p99 <= %g ms)\n",
			p.name, p.ph.Sent, p.ph.Admitted, p.ph.ByCode, p.ph.P50MS, p.ph.P99MS, p.ph.MaxMS, p.ph.ServerP99MS)
		if p.ph.FloodSent > 0 {
			fmt.Fprintf(out, "          flood %d sent: %v\n", p.ph.FloodSent, p.ph.FloodByCode)
		}
		fmt.Fprintf(out, "          server RSS %.0f MiB start, %.0f MiB peak, %.0f MiB end; heap peak %.0f MiB; CPU %.2f s\n",
			p.ph.RSSStartMiB, p.ph.RSSPeakMiB, p.ph.RSSEndMiB, p.ph.HeapPeakMiB, p.ph.CPUSeconds)
	}
	fmt.Fprintf(out, "admitted p99 under flood / unloaded: %.2f\n", res.P99Ratio)
	return nil
}

// progressOut is where bench's progress lines go.
var progressOut io.Writer = io.Discard

type flooder struct {
	o      floodOptions
	client *http.Client
	seq    atomic.Int64
}

// phase runs the measured pushes at o.Rate and, if floodRate > 0, the
// flood beside them, for o.Duration.
func (f *flooder) phase(ctx context.Context, name string, floodRate float64) (floodPhase, error) {
	var ph floodPhase
	var err error
	start, err := f.memory(ctx)
	if err != nil {
		return ph, err
	}
	ph.RSSStartMiB = start.rss
	ctx, cancel := context.WithTimeout(ctx, f.o.Duration)
	defer cancel()
	var (
		mu       sync.Mutex
		lat      []time.Duration
		byCode   = map[string]int64{}
		floodBy  = map[string]int64{}
		wg       sync.WaitGroup
		sent     atomic.Int64
		floodN   atomic.Int64
		peakRSS  float64
		peakHeap float64
	)
	count := func(m map[string]int64, k string) {
		mu.Lock()
		m[k]++
		mu.Unlock()
	}
	wg.Go(func() { // memory sampler
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				m, err := f.memory(context.WithoutCancel(ctx))
				if err == nil {
					mu.Lock()
					peakRSS, peakHeap = max(peakRSS, m.rss), max(peakHeap, m.heap)
					mu.Unlock()
				}
			}
		}
	})
	wg.Go(func() {
		pace(ctx, f.o.Rate, 2048, func(intended time.Time) {
			sent.Add(1)
			body, sig := f.push(name, true)
			code, err := f.post(context.WithoutCancel(ctx), body, sig)
			switch {
			case err != nil:
				count(byCode, "network")
			case code == http.StatusOK:
				d := time.Since(intended)
				mu.Lock()
				lat = append(lat, d)
				byCode["200"]++
				mu.Unlock()
			default:
				count(byCode, strconv.Itoa(code))
			}
		}, func() { count(byCode, "skipped") })
	})
	if floodRate > 0 {
		wg.Go(func() {
			pace(ctx, floodRate, 4096, func(time.Time) {
				floodN.Add(1)
				body, sig := f.push(name, f.o.Kind == "signed")
				code, err := f.post(context.WithoutCancel(ctx), body, sig)
				if err != nil {
					count(floodBy, "network")
					return
				}
				count(floodBy, strconv.Itoa(code))
			}, func() { count(floodBy, "skipped") })
		})
	}
	wg.Wait()
	ph.Sent, ph.FloodSent = sent.Load(), floodN.Load()
	ph.ByCode, ph.Admitted = byCode, byCode["200"]
	if floodRate > 0 {
		ph.FloodByCode = floodBy
	}
	slices.Sort(lat)
	ph.P50MS, ph.P99MS = ms(quantile(lat, 0.50)), ms(quantile(lat, 0.99))
	if len(lat) > 0 {
		ph.MaxMS = ms(lat[len(lat)-1])
	}
	ph.RSSPeakMiB, ph.HeapPeakMiB = peakRSS, peakHeap
	end, err := f.memory(context.WithoutCancel(ctx))
	if err != nil {
		return ph, err
	}
	ph.RSSEndMiB, ph.RSSPeakMiB = end.rss, max(ph.RSSPeakMiB, end.rss)
	ph.CPUSeconds = math.Round((end.cpu-start.cpu)*100) / 100
	ph.ServerP99MS = serverP99(start, end)
	return ph, nil
}

// pace calls send at rate a second from its own goroutine each, measured
// from the intended send times, with at most inflight open; past that,
// skip is called instead (the client cannot keep up).
func pace(ctx context.Context, rate float64, inflight int, send func(intended time.Time), skip func()) {
	sem := make(chan struct{}, inflight)
	var wg sync.WaitGroup
	defer wg.Wait()
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for k := 0; ; k++ {
		intended := start.Add(time.Duration(k) * interval)
		if d := time.Until(intended); d > 0 && !sleep(ctx, d) {
			return
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case sem <- struct{}{}:
			wg.Go(func() {
				defer func() { <-sem }()
				send(intended)
			})
		default:
			skip()
		}
	}
}

// push returns a Shopee order push of a new order, signed or not.
func (f *flooder) push(phase string, signed bool) (body []byte, sig string) {
	n := f.seq.Add(1)
	order := fmt.Sprintf("FL%s%d%d", strings.ToUpper(phase), time.Now().UnixNano()%1e6, n)
	body = fmt.Appendf(nil, `{"msg_id":%q,"shop_id":%d,"code":3,"timestamp":%d,"data":{"ordersn":%q,"status":"UNPAID","update_time":%d}}`,
		order, 900000+n%50, time.Now().Unix(), order, time.Now().Unix())
	if !signed {
		return body, strings.Repeat("0", 64)
	}
	key := f.o.Shopee.PushKey
	if key == "" {
		key = f.o.Shopee.PartnerKey
	}
	return body, shopee.SignPush(f.o.Shopee.CallbackURL, []byte(key), body)
}

func (f *flooder) post(ctx context.Context, body []byte, sig string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.o.BaseURL+"/webhooks/shopee", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", sig)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// scrape is what the flood test reads from the server's /metrics.
type scrape struct {
	rss, heap, cpu float64             // MiB, MiB, s
	ack2xx         map[float64]float64 // orderlane_push_ack_seconds{code="2xx",platform="shopee"} buckets: le -> count
}

// memory reads the server's resident memory and heap in use (MiB), its
// CPU time (s) and its ack-latency buckets of 200 answers from /metrics.
func (f *flooder) memory(ctx context.Context) (scrape, error) {
	sc := scrape{ack2xx: map[float64]float64{}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.o.BaseURL+"/metrics", nil)
	if err != nil {
		return sc, err
	}
	req.Header.Set("Authorization", "Bearer "+f.o.Token)
	resp, err := f.client.Do(req)
	if err != nil {
		return sc, fmt.Errorf("bench: /metrics: %w", err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	const bucket = `orderlane_push_ack_seconds_bucket{code="2xx",platform="shopee",le="`
	for lines.Scan() {
		line := lines.Text()
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(strings.TrimSpace(value), 64)
		switch {
		case name == "process_resident_memory_bytes":
			sc.rss = v / (1 << 20)
		case name == "go_memstats_heap_inuse_bytes":
			sc.heap = v / (1 << 20)
		case name == "process_cpu_seconds_total":
			sc.cpu = v
		case strings.HasPrefix(name, bucket):
			le := strings.TrimSuffix(strings.TrimPrefix(name, bucket), `"}`)
			if x, err := strconv.ParseFloat(le, 64); err == nil {
				sc.ack2xx[x] = v
			}
		}
	}
	return sc, lines.Err()
}

// serverP99 is the upper bound (ms) of the bucket holding the 99th
// percentile of the answers counted between a and b.
func serverP99(a, b scrape) float64 {
	les := make([]float64, 0, len(b.ack2xx))
	for le := range b.ack2xx {
		les = append(les, le)
	}
	slices.Sort(les)
	if len(les) == 0 {
		return 0
	}
	total := b.ack2xx[les[len(les)-1]] - a.ack2xx[les[len(les)-1]]
	for _, le := range les {
		if b.ack2xx[le]-a.ack2xx[le] >= 0.99*total {
			return le * 1000
		}
	}
	return math.Inf(1)
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

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
