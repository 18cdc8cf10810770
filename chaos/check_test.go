package chaos

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/orderlane/orderlane/order"
)

// report is the outcome of a chaos run.
type report struct {
	Kills        int
	Orders       int
	PushesAcked  int // first deliveries answered 200 (poison included)
	DupsAcked    int // second deliveries of an acknowledged push, answered 200
	PoisonAcked  int
	Retries      int64
	GivenUp      int64
	BadAnswers   int64
	Lost         int // acknowledged pushes (poison aside) missing from their order
	Duplicated   int // events applied more than once
	Reordered    int // orders whose acknowledged pushes were applied out of order
	WrongStatus  int // orders whose status is not that of their latest push
	Stray        int // events in an order that were never sent to it
	PoisonIn     int // poison events applied to an order
	DeadLetters  int
	DLExpected   int // dead letters of injected poison, once each
	DLUnexpected int // dead letters of anything else, or a second one of a poison push
	DLMissing    int // acknowledged poison pushes without a dead letter
	PastHold     int // strict mode: events applied after an unresolved dead letter of their order
	Redeliveries uint64
	Problems     []string // the first few violations, in words

	discarded []deadLetter // strict mode: the dead letters discarded before the final check
}

func (r *report) problem(format string, args ...any) {
	if len(r.Problems) < 20 {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// violations is the number of broken invariants.
func (r *report) violations() int {
	return r.Lost + r.Duplicated + r.Reordered + r.WrongStatus + r.Stray + r.PoisonIn + r.PastHold +
		r.DLUnexpected + r.DLMissing + int(r.GivenUp) + int(r.BadAnswers)
}

// view is what the API shows of one order.
type view struct {
	found  bool
	order  order.Order
	events []order.EventRecord
	err    error
}

func (s *server) view(ctx context.Context, k order.Key) view {
	var v view
	var body struct {
		Events []order.EventRecord `json:"events"`
	}
	found, err := s.getJSON(ctx, orderPath(k)+"/events", &body)
	if err != nil || !found {
		return view{err: err}
	}
	if _, err := s.getJSON(ctx, orderPath(k), &v.order); err != nil {
		return view{err: err}
	}
	v.found, v.events = true, body.Events
	return v
}

// views reads every plan's order, eight at a time.
func (s *server) views(ctx context.Context, plans []*plan) []view {
	out := make([]view, len(plans))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				out[i] = s.view(ctx, plans[i].key)
			}
		})
	}
	for i := range plans {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// waitIdle waits until both subscriptions have nothing pending or held.
func (s *server) waitIdle(ctx context.Context, timeout time.Duration) ([]subscriptionState, error) {
	deadline := time.Now().Add(timeout)
	for {
		subs, err := s.subscriptions(ctx)
		idle := err == nil && len(subs) == 2
		for _, st := range subs {
			idle = idle && st.Pending == 0 && st.Held == 0
		}
		if idle {
			return subs, nil
		}
		if time.Now().After(deadline) {
			return subs, fmt.Errorf("subscriptions not idle after %s: %+v (last error: %w)", timeout, subs, err)
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
}

// check compares what the API shows with what was acknowledged.
func (r *report) check(plans []*plan, views []view, dls []deadLetter) {
	poison := map[string]bool{} // keys of acknowledged poison pushes
	for i, pl := range plans {
		v := views[i]
		r.Orders++
		var acked []*push // acknowledged, poison aside, in acknowledgement order
		sent := map[string]bool{}
		for j, p := range pl.pushes {
			sent[p.ev.Key] = true
			if !pl.acked[j] {
				continue
			}
			r.PushesAcked++
			if p.poison {
				r.PoisonAcked++
				poison[p.ev.Key] = true
				continue
			}
			acked = append(acked, p)
		}
		if v.err != nil {
			r.Lost += len(acked)
			r.problem("order %v: %v", pl.key, v.err)
			continue
		}
		pos := map[string]int{}
		for k, e := range v.events {
			if _, twice := pos[e.Key]; twice {
				r.Duplicated++
				r.problem("order %v: event %s applied twice", pl.key, e.Key)
			}
			pos[e.Key] = k
			switch {
			case !sent[e.Key]:
				r.Stray++
				r.problem("order %v: event %s was never sent to it", pl.key, e.Key)
			case poison[e.Key]:
				r.PoisonIn++
				r.problem("order %v: poison event %s applied", pl.key, e.Key)
			}
		}
		if v.found && v.order.EventCount != len(v.events) {
			r.Duplicated++
			r.problem("order %v: event_count %d, %d events", pl.key, v.order.EventCount, len(v.events))
		}
		last, inOrder := -1, true
		for _, p := range acked {
			k, ok := pos[p.ev.Key]
			if !ok {
				r.Lost++
				r.problem("order %v: acknowledged push %s (%s) not applied", pl.key, p.ev.Key, p.ev.PlatformStatus)
				continue
			}
			if k < last {
				inOrder = false
			}
			last = k
		}
		if !inOrder {
			r.Reordered++
			r.problem("order %v: applied out of order: %v", pl.key, keys(v.events))
		}
		if n := len(acked); n > 0 && v.found {
			if want := acked[n-1].ev; v.order.Status != want.Status || v.order.PlatformStatus != want.PlatformStatus {
				r.WrongStatus++
				r.problem("order %v: status %s (%s), want %s (%s)", pl.key, v.order.Status, v.order.PlatformStatus, want.Status, want.PlatformStatus)
			}
		}
	}
	r.DeadLetters = len(dls)
	seen := map[string]int{}
	for _, d := range dls {
		seen[d.MsgID]++
		if !poison[d.MsgID] || d.Subscription != "orders" || seen[d.MsgID] > 1 {
			r.DLUnexpected++
			r.problem("unexpected dead letter %+v", d)
			continue
		}
		r.DLExpected++
	}
	for k := range poison {
		if seen[k] == 0 {
			r.DLMissing++
			r.problem("poison push %s acknowledged but not dead-lettered", k)
		}
	}
}

func keys(evs []order.EventRecord) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Key
	}
	return out
}

// waitHeld (strict mode) waits until every acknowledged poison push is
// dead-lettered and everything else the orders subscription has not
// acknowledged is held in memory behind those dead letters.
func (s *server) waitHeld(ctx context.Context, plans []*plan, timeout time.Duration) ([]deadLetter, error) {
	want := 0
	for _, pl := range plans {
		for j, p := range pl.pushes {
			if p.poison && pl.acked[j] {
				want++
			}
		}
	}
	deadline := time.Now().Add(timeout)
	stable := 0
	for {
		dls, err := s.deadLetters(ctx)
		subs, serr := s.subscriptions(ctx)
		settled := err == nil && serr == nil && len(dls) == want
		for _, st := range subs {
			settled = settled && st.Pending == int64(st.Held)
		}
		if settled {
			if stable++; stable == 3 {
				return dls, nil
			}
		} else {
			stable = 0
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("not settled after %s: %d of %d dead letters, subscriptions %+v (last errors: %w)",
				timeout, len(dls), want, subs, errors.Join(err, serr))
		}
		time.Sleep(200 * time.Millisecond) // poll interval
	}
}

// checkHeld (strict mode) counts events applied after the poison push of
// their order while its dead letter was unresolved.
func (r *report) checkHeld(plans []*plan, views []view) {
	for i, pl := range plans {
		after := map[string]bool{} // keys of the pushes after the order's poison push
		held := false
		for _, p := range pl.pushes {
			if held {
				after[p.ev.Key] = true
			}
			held = held || p.poison
		}
		for _, e := range views[i].events {
			if after[e.Key] {
				r.PastHold++
				r.problem("order %v: %s applied while the dead letter before it was unresolved", pl.key, e.Key)
			}
		}
	}
}
