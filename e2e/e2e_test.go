package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/orderlane/orderlane/order"
)

// TestMain builds the orderlane binary once for all tests (without -race:
// the race detector is for the test process), unless -short.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips itself
	}
	dir, err := os.MkdirTemp("", "orderlane-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "orderlane")
	build := exec.Command("go", "build", "-o", binPath, "github.com/orderlane/orderlane/cmd/orderlane")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The tests run one after the other, not in parallel: each loads the
// machine with a server and a burst of senders, and the kill and
// shutdown windows are what they measure.

// TestKillNineLosesNoAcknowledgedPush kills the server with SIGKILL while
// 16 senders push orders of the three marketplaces, restarts it on the same
// data dir, and checks that every push answered 200 before the kill is
// applied, exactly once, with each order's status that of its latest
// stored push.
func TestKillNineLosesNoAcknowledgedPush(t *testing.T) {
	const (
		senders   = 16
		perSender = 40  // orders per sender: more than can be sent before the kill
		killAfter = 600 // acknowledged pushes
	)
	f := setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	plans := f.gen.orders(senders * perSender)
	total := countPushes(plans)
	p := f.start()
	c := newClient(senders)
	defer c.CloseIdleConnections()
	run := startSenders(ctx, c, f.base, deal(plans, senders))
	if err := run.waitAcked(killAfter, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	inflight, ackedAtKill := run.mark(), run.acked.Load()
	p.kill()
	if err := run.wait(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if run.acked.Load() == int64(total) {
		t.Fatalf("all %d pushes were acknowledged before the kill; nothing was in flight", total)
	}

	restarted := time.Now()
	f.start()
	ready := time.Since(restarted)
	converged := f.waitConverged(ctx, plans, 30*time.Second)
	vs, m := f.finalCheck(ctx, plans)

	s := summarise(plans, vs)
	t.Logf("SIGKILL after %d acknowledged pushes (%d requests in flight); %d acknowledged in all, of %d sent, over %d of %d planned orders",
		ackedAtKill, inflight, s.acked, s.sent, s.orders, len(plans))
	t.Logf("unacknowledged sends: %s; %d of them were stored anyway", run.failureSummary(), s.unackedStored)
	t.Logf("restart ready in %s; every acknowledged push applied %s later; %v redeliveries absorbed by the store; %s",
		ready.Round(time.Millisecond), converged.Round(time.Millisecond),
		m.sum("orderlane_order_events_total", "outcome", "duplicate"), m.subscriptions())
}

// TestSigtermFinishesInFlight sends SIGTERM during a burst of pushes and
// checks that the server exits with status 0, refuses connections
// afterwards, and that every push it answered 200 (in flight at the signal
// or not) is applied after a restart.
func TestSigtermFinishesInFlight(t *testing.T) {
	const (
		senders   = 16
		perSender = 30
		termAfter = 200 // acknowledged pushes
	)
	f := setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	plans := f.gen.orders(senders * perSender)
	total := countPushes(plans)
	// probe is pushed after the exit; its order must never exist.
	probe := f.gen.order(order.TikTok)
	p := f.start()
	c := newClient(senders)
	defer c.CloseIdleConnections()
	run := startSenders(ctx, c, f.base, deal(plans, senders))
	if err := run.waitAcked(termAfter, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	inflight, ackedAtTerm := run.mark(), run.acked.Load()
	termAt := time.Now()
	if err := p.term(); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(20 * time.Second); err != nil {
		t.Fatalf("after SIGTERM: %v; want exit status 0", err)
	}
	exitAfter := time.Since(termAt)
	if err := run.wait(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if run.acked.Load() == int64(total) {
		t.Fatalf("all %d pushes were acknowledged before the shutdown; nothing was in flight", total)
	}
	// A fresh client, so that the probe cannot go out on a pooled
	// connection the server closed.
	fresh := newClient(1)
	defer fresh.CloseIdleConnections()
	code, err := post(ctx, fresh, f.base, probe.pushes[0])
	switch {
	case err == nil:
		t.Errorf("push after shutdown answered %d; want connection refused", code)
	case !errors.Is(err, syscall.ECONNREFUSED):
		t.Errorf("push after shutdown: %v; want connection refused", err)
	}

	f.start()
	converged := f.waitConverged(ctx, plans, 30*time.Second)
	vs, m := f.finalCheck(ctx, append(plans, probe))

	s := summarise(plans, vs)
	t.Logf("SIGTERM after %d acknowledged pushes, %d requests in flight; %d of those answered 200 during the shutdown; exit status 0 after %s",
		ackedAtTerm, inflight, run.ackedAcross.Load(), exitAfter.Round(time.Millisecond))
	t.Logf("%d acknowledged in all, of %d sent, over %d orders; unacknowledged sends: %s; %d of them stored anyway",
		s.acked, s.sent, s.orders, run.failureSummary(), s.unackedStored)
	t.Logf("after restart every acknowledged push applied in %s; %v redeliveries absorbed by the store; %s",
		converged.Round(time.Millisecond), m.sum("orderlane_order_events_total", "outcome", "duplicate"), m.subscriptions())
}

// TestRestartReplaysNothingTwice sends every push of some orders, waits
// until they are applied, restarts the server gracefully, sends the same
// pushes again (a marketplace retrying), and checks that every order still
// has each event once and the same event count.
func TestRestartReplaysNothingTwice(t *testing.T) {
	const senders = 6
	f := setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	plans := f.gen.orders(30)
	total := countPushes(plans)
	p := f.start()
	c := newClient(senders)
	defer c.CloseIdleConnections()
	sendAll := func(plans []*orderPlan) {
		t.Helper()
		run := startSenders(ctx, c, f.base, deal(plans, senders))
		if err := run.wait(30 * time.Second); err != nil {
			t.Fatal(err)
		}
		if n := run.acked.Load(); n != int64(total) {
			t.Fatalf("%d of %d pushes acknowledged (unacknowledged: %s)", n, total, run.failureSummary())
		}
	}
	sendAll(plans)
	f.waitConverged(ctx, plans, 20*time.Second)
	before, _ := f.finalCheck(ctx, plans)

	if err := p.term(); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(20 * time.Second); err != nil {
		t.Fatalf("after SIGTERM: %v; want exit status 0", err)
	}
	c.CloseIdleConnections() // the old process closed them
	f.start()

	again := make([]*orderPlan, len(plans))
	for i, o := range plans {
		again[i] = o.again()
	}
	sendAll(again)
	// The resends the stream did not drop as duplicates were appended:
	// wait until the orders subscription has handled at least that many.
	m, err := f.waitMetrics(ctx, 20*time.Second, "handled the resends", func(m metrics) bool {
		return m.value("orderlane_subscription_handled_total", "subscription", "orders") >= m.sum("orderlane_pushes_total", "result", "accepted")
	})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := f.finalCheck(ctx, again)

	for i, o := range plans {
		b, a := before[i], after[i]
		if a.order.EventCount != b.order.EventCount || len(a.events) != len(b.events) || a.order.LastSeq != b.order.LastSeq {
			t.Errorf("order %v: event_count %d, %d events, last_seq %d after the resend; %d, %d, %d before",
				o.key, a.order.EventCount, len(a.events), a.order.LastSeq, b.order.EventCount, len(b.events), b.order.LastSeq)
		}
		if len(a.events) != len(o.pushes) {
			t.Errorf("order %v: %d events, want one per push (%d)", o.key, len(a.events), len(o.pushes))
		}
	}
	t.Logf("resent all %d pushes of %d orders after a restart, all answered 200; gateway results: %s; store outcomes: %s",
		total, len(plans), m.by("orderlane_pushes_total", "result"), m.by("orderlane_order_events_total", "outcome"))
}

// countPushes is the number of pushes of plans.
func countPushes(plans []*orderPlan) int {
	n := 0
	for _, o := range plans {
		n += len(o.pushes)
	}
	return n
}

// summary counts a send phase's outcome over plans and their final views.
type summary struct {
	orders        int // orders with at least one push sent
	sent, acked   int // pushes
	unackedStored int // pushes sent without acknowledgement that were stored anyway
}

func summarise(plans []*orderPlan, vs []view) summary {
	var s summary
	for i, o := range plans {
		if o.sent > 0 {
			s.orders++
		}
		s.sent += o.sent
		s.acked += o.acked
		s.unackedStored += o.unackedStored(vs[i])
	}
	return s
}
