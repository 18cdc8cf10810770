package jetstream

import (
	"testing"
	"time"
)

// TestPauseProbesOneAtATime: after an outage report, no caller passes
// until the pause ends; then exactly one probes; its outcome resumes or
// pauses again (longer); a probe that ends without an outcome hands the
// probe to the next caller.
func TestPauseProbesOneAtATime(t *testing.T) {
	t.Parallel()
	p := newPause(func(n int) time.Duration { return time.Duration(n) * 20 * time.Millisecond })
	stop := make(chan struct{})
	if probe, ok := p.wait(stop); !ok || probe {
		t.Fatalf("running: wait = probe %v, ok %v; want through, no probe", probe, ok)
	}
	if d, first := p.report(false, true); d != 20*time.Millisecond || !first || !p.active() {
		t.Fatalf("first outage report: pause %s, first %v, active %v", d, first, p.active())
	}
	if d, _ := p.report(false, true); d != 0 {
		t.Errorf("a call already in flight reported the outage again: new pause %s, want none", d)
	}
	began := time.Now()
	probe, ok := p.wait(stop)
	if !ok || !probe || time.Since(began) < 15*time.Millisecond {
		t.Fatalf("after the pause: probe %v, ok %v after %s; want one probe after about 20ms", probe, ok, time.Since(began))
	}
	second := make(chan bool, 1)
	go func() { pr, _ := p.wait(stop); second <- pr }()
	select {
	case <-second:
		t.Fatal("a second caller passed while the probe was out")
	case <-time.After(50 * time.Millisecond): // nothing to wait on: proving a non-event
	}
	if d, first := p.report(true, true); d != 40*time.Millisecond || first {
		t.Errorf("failed probe: pause %s (first %v), want the longer 40ms", d, first)
	}
	if pr := <-second; !pr {
		t.Fatal("the waiting caller passed without probing")
	}
	p.release() // the probe ended without a handler call
	if pr, ok := p.wait(stop); !ok || !pr {
		t.Fatalf("after a released probe: probe %v, ok %v; want the next caller to probe", pr, ok)
	}
	p.report(true, false)
	if p.active() {
		t.Fatal("a successful probe did not resume")
	}
	if pr, ok := p.wait(stop); !ok || pr {
		t.Fatalf("resumed: probe %v, ok %v", pr, ok)
	}
	p.report(false, true)
	close(stop)
	if _, ok := p.wait(stop); ok {
		t.Fatal("wait passed after stop")
	}
}
