package simulate

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// eventRecord holds the fields of order.EventRecord the check reads.
type eventRecord struct {
	Key        string    `json:"key"`
	ReceivedAt time.Time `json:"received_at"`
	AppliedAt  time.Time `json:"applied_at"`
}

// checkEvents reads the history of each plan and fills rep's apply latency,
// ordering violations and missing events.
func (v *verifier) checkEvents(ctx context.Context, plans []*orderPlan, rep *Report) error {
	var (
		mu   sync.Mutex
		lat  []time.Duration
		wg   sync.WaitGroup
		next = make(chan *orderPlan)
		fail error
	)
	for range v.concurrency {
		wg.Go(func() {
			for plan := range next {
				evs, err := v.events(ctx, plan)
				mu.Lock()
				if err != nil {
					if fail == nil {
						fail = err
					}
					mu.Unlock()
					continue
				}
				rep.EventsChecked += len(evs)
				for _, e := range evs {
					lat = append(lat, e.AppliedAt.Sub(e.ReceivedAt))
				}
				missing, outOfOrder := compareHistory(plan.acked, evs)
				rep.MissingEvents += missing
				if outOfOrder {
					rep.OrderingViolations++
				}
				mu.Unlock()
			}
		})
	}
	for _, p := range plans {
		select {
		case next <- p:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	rep.ApplyLatencyMS = latencyOf(lat)
	if fail != nil {
		return fmt.Errorf("simulate: reading order histories: %w", fail)
	}
	return ctx.Err()
}

// compareHistory checks that every acknowledged key is in the history and
// that they were applied in acknowledgement order.
func compareHistory(acked []string, evs []eventRecord) (missing int, outOfOrder bool) {
	pos := make(map[string]int, len(evs))
	for i, e := range evs {
		pos[e.Key] = i
	}
	last := -1
	for _, k := range acked {
		i, ok := pos[k]
		if !ok {
			missing++
			continue
		}
		if i < last {
			outOfOrder = true
		}
		last = i
	}
	return missing, outOfOrder
}

func (v *verifier) events(ctx context.Context, plan *orderPlan) ([]eventRecord, error) {
	u := v.baseURL + "/api/v1/orders/" + url.PathEscape(string(plan.platform)) + "/" +
		url.PathEscape(plan.shopID) + "/" + url.PathEscape(plan.orderID) + "/events"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+v.token)
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	var body struct {
		Events []eventRecord `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return body.Events, nil
}

// serverRSS reads process_resident_memory_bytes from the server's /metrics.
func (v *verifier) serverRSS(ctx context.Context) float64 {
	f, ok := v.metric(ctx, "process_resident_memory_bytes")
	if !ok {
		return 0
	}
	return float64(int(f/(1<<20)*10)) / 10
}

// metric reads one unlabelled sample from the server's /metrics; false
// when there is none (no /metrics, as on the bare sink, or no such name).
func (v *verifier) metric(ctx context.Context, name string) (float64, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.baseURL+"/metrics", nil)
	if err != nil {
		return 0, false
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, false
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return f, err == nil
		}
	}
	return 0, false
}
