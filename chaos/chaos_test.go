package chaos

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

var (
	kills   = flag.Int("chaos.kills", 2, "SIGKILL/restart cycles under load (make chaos: 6)")
	senders = flag.Int("chaos.senders", 16, "concurrent push senders")
	poison  = flag.Float64("chaos.poison", 0.02, "share of orders with a poison push")
	dup     = flag.Float64("chaos.dup", 0.1, "share of pushes sent twice")
	minGap  = flag.Duration("chaos.min-gap", 1500*time.Millisecond, "least time from ready to the next kill")
	maxGap  = flag.Duration("chaos.max-gap", 4*time.Second, "most time from ready to the next kill")
	seed    = flag.Uint64("chaos.seed", 0, "random seed (0: random)")
	strict  = flag.Bool("chaos.strict", false, "run the orders subscription in strict mode (hold an order behind its dead letter), discard the dead letters at the end")
)

// binPath is the orderlane binary TestMain built ("" under -short).
var binPath string

// TestMain builds the orderlane binary once (without -race: the race
// detector is for the test process), unless -short.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "orderlane-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "orderlane")
	build := exec.Command("go", "build", "-o", binPath, "github.com/orderlane/orderlane/cmd/orderlane")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "chaos: go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestChaos: SIGKILL the server at random moments under a push storm,
// restart it each time, and check every invariant at the end (see the
// package documentation).
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: runs the orderlane binary under load with SIGKILLs; skipped under -short")
	}
	s := *seed
	if s == 0 {
		s = rand.Uint64()
	}
	rnd := rand.New(rand.NewPCG(s, s))
	addr := freeAddr(t)
	callbackURL := "http://" + addr + "/webhooks/shopee"
	srv := newServer(t, binPath, callbackURL, addr)
	if *strict {
		srv.env = append(srv.env, "ORDERLANE_HOLD_ON_DEAD_LETTER=orders")
	}
	gen := newGenerator(t, callbackURL, *poison, s)
	if err := srv.start(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	st := startStorm(srv.base, gen, *senders, *dup)
	rep := &report{}
	for range *kills {
		// Under load: at least a few hundred pushes since the restart, and
		// a random moment after that.
		from := st.acked.Load()
		gap := *minGap + time.Duration(rnd.Int64N(int64(*maxGap-*minGap)+1))
		time.Sleep(gap) // the moment of the kill is the point: random, not awaited
		for st.acked.Load() < from+200 && time.Since(began) < 10*time.Minute {
			time.Sleep(10 * time.Millisecond) // poll interval
		}
		srv.kill()
		rep.Kills++
		t.Logf("kill %d after %s: %d pushes acknowledged so far", rep.Kills, time.Since(began).Round(time.Millisecond), st.acked.Load())
		if err := srv.start(); err != nil {
			t.Fatalf("restart after kill %d: %v", rep.Kills, err)
		}
	}
	time.Sleep(time.Second) // load on the last run too
	plans := st.halt()
	stormTook := time.Since(began)

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if *strict {
		// Every poison push held its order: nothing after it applied until
		// its dead letter is resolved, here by discarding it.
		dls, err := srv.waitHeld(ctx, plans, 90*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		rep.checkHeld(plans, srv.views(ctx, plans))
		rep.discarded = dls
		for _, d := range dls {
			if err := srv.discard(ctx, d.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	subs, err := srv.waitIdle(ctx, 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range subs {
		rep.Redeliveries += sub.Redeliveries
	}
	dls, err := srv.deadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if *strict {
		if len(dls) != 0 {
			t.Errorf("%d dead letters left after discarding them all: %+v", len(dls), dls)
		}
		dls = rep.discarded
	}
	rep.DupsAcked, rep.Retries, rep.GivenUp, rep.BadAnswers = int(st.dupAcked.Load()), st.retries.Load(), st.givenUp.Load(), st.bad.Load()
	rep.check(plans, srv.views(ctx, plans), dls)

	t.Logf("chaos: seed %d, %d kills in %s under load; refused or failed requests (retried): %s",
		s, rep.Kills, stormTook.Round(time.Millisecond), st.failures())
	mode := "default"
	if *strict {
		mode = "strict (hold on dead letter)"
	}
	fmt.Printf("\nchaos (%s): kills %d | orders %d | pushes acked %d (+%d duplicates resent, %d retries) | "+
		"lost %d | duplicated %d | reordered %d | wrong status %d | stray %d | "+
		"poison injected %d, dead-lettered %d, applied %d | unexpected dead letters %d, missing %d | "+
		"applied past an unresolved dead letter %d | given up %d, bad answers %d | redeliveries on the last run %d\n\n",
		mode, rep.Kills, rep.Orders, rep.PushesAcked, rep.DupsAcked, rep.Retries,
		rep.Lost, rep.Duplicated, rep.Reordered, rep.WrongStatus, rep.Stray,
		rep.PoisonAcked, rep.DLExpected, rep.PoisonIn, rep.DLUnexpected, rep.DLMissing,
		rep.PastHold, rep.GivenUp, rep.BadAnswers, rep.Redeliveries)
	if rep.Kills < *kills || rep.PoisonAcked == 0 && *poison > 0 && rep.Orders > 200 {
		t.Errorf("the run did not do what it should: %d kills (want %d), %d poison pushes", rep.Kills, *kills, rep.PoisonAcked)
	}
	if n := rep.violations(); n > 0 {
		t.Errorf("%d violations; the first:\n%v", n, rep.Problems)
	}
}
