package simulate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orderlane/orderlane/order"
)

// Polling of the query API: the first re-poll follows quickly, later ones
// back off up to maxPollInterval.
const (
	minPollInterval = 50 * time.Millisecond
	maxPollInterval = time.Second
)

// ErrUnauthorized is returned by Run when the query API refuses the API
// token (401 or 403).
var ErrUnauthorized = errors.New("simulate: the query API refused the API token")

// observed is what the query API showed for one order.
type observed struct {
	found          bool
	status         string
	platformStatus string
	// order is the order as the API answered it (its Detail included).
	order order.Order
	// note says why the order could not be read ("not found", "HTTP 500").
	note string
}

// right reports whether o shows plan's final state.
func (o observed) right(plan *orderPlan) bool {
	return o.found && o.status == string(plan.finalStatus) && o.platformStatus == plan.finalRaw
}

// verifier polls the query API until every order shows its final state.
type verifier struct {
	client      *http.Client
	baseURL     string
	token       string
	concurrency int
	// correct counts the orders seen in their final state (progress line).
	correct atomic.Int64
}

// run polls every plan once, then re-polls those not yet right until all
// are or deadline passes. Orders whose final status push was never accepted
// are polled only once: they cannot become right. It returns the last
// observation of every plan (index-aligned) and when the last order that
// could become right was seen right (zero if the deadline came first).
func (v *verifier) run(ctx context.Context, plans []*orderPlan, deadline time.Time) ([]observed, time.Time, error) {
	keys := make([]order.Key, len(plans))
	for i, p := range plans {
		keys[i] = order.Key{Platform: p.platform, ShopID: p.shopID, OrderID: p.orderID}
	}
	right := func(i int, o observed) bool { return o.right(plans[i]) }
	hopeless := func(i int) bool { return !plans[i].finalAccepted }
	return v.await(ctx, keys, right, hopeless, deadline)
}

// await polls every key once, then re-polls those whose observation is not
// right yet until all are or deadline passes; a hopeless key is polled only
// once. It returns the last observation of every key (index-aligned) and
// when the last key that could become right was seen right (zero if the
// deadline came first).
func (v *verifier) await(ctx context.Context, keys []order.Key, right func(i int, o observed) bool, hopeless func(i int) bool, deadline time.Time) ([]observed, time.Time, error) {
	got := make([]observed, len(keys))
	pending := make([]int, len(keys))
	for i := range keys {
		pending[i] = i
	}
	interval := minPollInterval
	for {
		if err := v.poll(ctx, keys, pending, got); err != nil {
			return got, time.Time{}, err
		}
		now := time.Now()
		still := pending[:0]
		for _, i := range pending {
			switch {
			case right(i, got[i]):
				v.correct.Add(1)
			case !hopeless(i):
				still = append(still, i)
			}
		}
		pending = still
		if len(pending) == 0 {
			return got, now, nil
		}
		if !now.Before(deadline) {
			return got, time.Time{}, nil
		}
		if !sleep(ctx, min(interval, time.Until(deadline))) {
			return got, time.Time{}, ctx.Err()
		}
		interval = min(interval*2, maxPollInterval)
	}
}

// poll reads the orders of keys at indexes into got, concurrently.
func (v *verifier) poll(ctx context.Context, keys []order.Key, indexes []int, got []observed) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(v.concurrency, len(indexes)) {
		wg.Go(func() {
			for i := range next {
				o, err := v.get(ctx, keys[i])
				if err != nil {
					cancel(err)
					continue
				}
				got[i] = o
			}
		})
	}
feed:
	for _, i := range indexes {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// get reads one order. Answers other than 200 and 404 are noted, not
// errors, so that a server still starting is polled again; only a refused
// token (ErrUnauthorized) and a done ctx end the run.
func (v *verifier) get(ctx context.Context, k order.Key) (observed, error) {
	u := fmt.Sprintf("%s/api/v1/orders/%s/%s/%s", v.baseURL,
		url.PathEscape(string(k.Platform)), url.PathEscape(k.ShopID), url.PathEscape(k.OrderID))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return observed{}, err
	}
	req.Header.Set("Authorization", "Bearer "+v.token)
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return observed{}, context.Cause(ctx)
		}
		return observed{note: "request failed: " + err.Error()}, nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return observed{}, fmt.Errorf("%w (HTTP %d)", ErrUnauthorized, resp.StatusCode)
	case resp.StatusCode == http.StatusNotFound:
		return observed{note: "not found"}, nil
	case resp.StatusCode != http.StatusOK:
		return observed{note: fmt.Sprintf("HTTP %d", resp.StatusCode)}, nil
	case err != nil:
		return observed{note: "reading the answer: " + err.Error()}, nil
	}
	// The API answers with the order itself; an {"order": {...}} envelope
	// is tolerated.
	var doc struct {
		order.Order
		Envelope *order.Order `json:"order"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return observed{note: "answer is not an order: " + err.Error()}, nil
	}
	o := doc.Order
	if o.Status == "" && doc.Envelope != nil {
		o = *doc.Envelope
	}
	return observed{found: true, status: string(o.Status), platformStatus: o.PlatformStatus, order: o}, nil
}
