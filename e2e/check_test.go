package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/orderlane/orderlane/order"
)

// view is what the API shows of one order.
type view struct {
	found  bool // false: 404
	order  order.Order
	events []order.EventRecord
}

// view reads order k and its events.
func (f *fixture) view(ctx context.Context, k order.Key) (view, error) {
	var v view
	path := "/api/v1/orders/" + url.PathEscape(string(k.Platform)) + "/" + url.PathEscape(k.ShopID) + "/" + url.PathEscape(k.OrderID)
	found, err := f.getJSON(ctx, path, &v.order)
	if err != nil || !found {
		return v, err
	}
	var body struct {
		Events []order.EventRecord `json:"events"`
	}
	if found, err = f.getJSON(ctx, path+"/events", &body); err != nil || !found {
		return v, err
	}
	v.found, v.events = true, body.Events
	return v, nil
}

// getJSON GETs path with the API token into dst; found is false on 404.
func (f *fixture) getJSON(ctx context.Context, path string, dst any) (found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+path, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := f.api.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, json.NewDecoder(resp.Body).Decode(dst)
	case http.StatusNotFound:
		return false, nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	return false, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
}

// verdict compares the API's view of o with what was sent. pending says
// why the view is not (yet) what it must become: events can still be
// applied. bad lists what no later apply can repair.
//
// The view must hold every acknowledged push once; it may also hold the
// one push sent without an acknowledgement (stored, answer lost), and
// nothing else. The order's status is the mapped status of the push with
// the latest update time among those it holds.
func (o *orderPlan) verdict(v view) (pending string, bad []string) {
	if !v.found {
		if o.acked > 0 {
			return "order not found", nil
		}
		return "", nil // nothing acknowledged: absent is right (present is checked below)
	}
	index := make(map[string]int, o.sent) // key -> position, of the pushes sent
	for i, p := range o.pushes[:o.sent] {
		index[p.ev.Key] = i
	}
	seen := make(map[string]int, len(v.events))
	latest := -1
	for _, e := range v.events {
		seen[e.Key]++
		i, sent := index[e.Key]
		switch {
		case !sent:
			bad = append(bad, fmt.Sprintf("has event %s, which was never sent", e.Key))
		case seen[e.Key] == 2:
			bad = append(bad, fmt.Sprintf("has event %s more than once", e.Key))
		case i > latest:
			latest = i
		}
	}
	for _, p := range o.pushes[:o.acked] {
		if seen[p.ev.Key] == 0 {
			return fmt.Sprintf("acknowledged push %s (%s) not applied", p.ev.Key, p.ev.PlatformStatus), bad
		}
	}
	if v.order.EventCount != len(v.events) {
		return fmt.Sprintf("event_count %d but %d events", v.order.EventCount, len(v.events)), bad
	}
	if latest >= 0 {
		want := o.pushes[latest].ev
		if v.order.Status != want.Status || v.order.PlatformStatus != want.PlatformStatus {
			return fmt.Sprintf("status %s (%s), want %s (%s) of its latest push %s",
				v.order.Status, v.order.PlatformStatus, want.Status, want.PlatformStatus, want.Key), bad
		}
	}
	return "", bad
}

// unackedStored counts the pushes of v that were sent without an
// acknowledgement: stored, but the answer was lost.
func (o *orderPlan) unackedStored(v view) int {
	n := 0
	for _, p := range o.pushes[o.acked:o.sent] {
		for _, e := range v.events {
			if e.Key == p.ev.Key {
				n++
				break
			}
		}
	}
	return n
}

// views reads every plan's order, a few at a time.
func (f *fixture) views(ctx context.Context, plans []*orderPlan) ([]view, []error) {
	vs, errs := make([]view, len(plans)), make([]error, len(plans))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				vs[i], errs[i] = f.view(ctx, plans[i].key)
			}
		})
	}
	for i := range plans {
		next <- i
	}
	close(next)
	wg.Wait()
	return vs, errs
}

// waitConverged polls the API until every plan's verdict has nothing
// pending, and returns how long that took. It fails the test at the
// deadline, and reports (once each) what can never heal as soon as it is
// seen.
func (f *fixture) waitConverged(ctx context.Context, plans []*orderPlan, timeout time.Duration) time.Duration {
	f.t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	reported := map[string]bool{}
	left := plans
	for {
		vs, errs := f.views(ctx, left)
		var still []*orderPlan
		var why []string
		for i, o := range left {
			pending := ""
			if errs[i] != nil {
				pending = errs[i].Error()
			} else {
				var bad []string
				pending, bad = o.verdict(vs[i])
				for _, b := range bad {
					if msg := fmt.Sprintf("order %v: %s", o.key, b); !reported[msg] {
						reported[msg] = true
						f.t.Error(msg)
					}
				}
			}
			if pending != "" {
				still = append(still, o)
				why = append(why, fmt.Sprintf("order %v: %s", o.key, pending))
			}
		}
		if len(still) == 0 {
			return time.Since(start)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			f.t.Fatalf("%d of %d orders not converged after %s:\n%s", len(still), len(plans), timeout, firstLines(why, 10))
		}
		left = still
		select {
		case <-time.After(50 * time.Millisecond): // poll interval
		case <-ctx.Done():
		}
	}
}

// finalCheck waits until the subscriptions are idle (everything in the
// topic handled), then checks every plan once more, with nothing allowed
// to be pending, and that no event was dead-lettered. It returns the views
// and the idle scrape of /metrics.
func (f *fixture) finalCheck(ctx context.Context, plans []*orderPlan) ([]view, metrics) {
	f.t.Helper()
	m, err := f.waitMetrics(ctx, 20*time.Second, "idle", idle)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, sub := range []string{"orders", "audit"} {
		if n := m.value("orderlane_subscription_dead_letters_total", "subscription", sub); n != 0 {
			f.t.Errorf("subscription %s dead-lettered %v events", sub, n)
		}
	}
	vs, errs := f.views(ctx, plans)
	var problems []string
	for i, o := range plans {
		if errs[i] != nil {
			problems = append(problems, fmt.Sprintf("order %v: %v", o.key, errs[i]))
			continue
		}
		pending, bad := o.verdict(vs[i])
		if pending != "" {
			problems = append(problems, fmt.Sprintf("order %v: %s", o.key, pending))
		}
		for _, b := range bad {
			problems = append(problems, fmt.Sprintf("order %v: %s", o.key, b))
		}
	}
	if len(problems) > 0 {
		f.t.Errorf("%d problems once idle:\n%s", len(problems), firstLines(problems, 20))
	}
	return vs, m
}

// firstLines joins up to n lines, sorted, and says how many were left out.
func firstLines(lines []string, n int) string {
	sort.Strings(lines)
	if len(lines) > n {
		return strings.Join(lines[:n], "\n") + fmt.Sprintf("\n(and %d more)", len(lines)-n)
	}
	return strings.Join(lines, "\n")
}
