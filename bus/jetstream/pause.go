package jetstream

import (
	"sync"
	"time"
)

// pause is a subscription's circuit breaker for dependency outages. When a
// handler reports bus.Unavailable the subscription pauses (no worker starts
// a handler call), for a delay that grows while the outage lasts; then one
// call probes: if the dependency answers, every worker resumes, else the
// pause starts again, longer. Held messages stay unacknowledged and are
// kept alive meanwhile, so nothing is lost or dead-lettered.
type pause struct {
	delay func(n int) time.Duration // pause after the n-th consecutive trip

	mu      sync.Mutex
	state   pauseState
	until   time.Time     // end of the pause (state open)
	trips   int           // consecutive trips without a success
	changed chan struct{} // closed and replaced on every state change
}

type pauseState int

const (
	running pauseState = iota
	paused             // waiting for until
	probing            // one call is checking whether the dependency is back
)

func newPause(delay func(int) time.Duration) *pause {
	return &pause{delay: delay, changed: make(chan struct{})}
}

// wait returns when a handler call may start: at once while running; after
// the pause (the first caller then probes: probe is true) otherwise. It
// returns ok false when stop closes first.
func (p *pause) wait(stop <-chan struct{}) (probe, ok bool) {
	for {
		p.mu.Lock()
		switch {
		case p.state == running:
			p.mu.Unlock()
			return false, true
		case p.state == paused && !time.Now().Before(p.until):
			p.setLocked(probing)
			p.mu.Unlock()
			return true, true
		}
		changed := p.changed
		var (
			timer   *time.Timer
			timeout <-chan time.Time
		)
		if p.state == paused {
			timer = time.NewTimer(time.Until(p.until))
			timeout = timer.C
		}
		p.mu.Unlock()
		select {
		case <-stop:
			return false, false
		case <-changed:
		case <-timeout:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// report records the outcome of a handler call: unavailable when it
// reported bus.Unavailable. It returns the new pause when this report
// started one, and whether the subscription was running until then.
func (p *pause) report(probe, unavailable bool) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case !unavailable:
		// The dependency answered. Only the probe ends a pause: a call
		// that started before the outage says nothing about now.
		if p.state == running || probe {
			p.trips = 0
			if p.state != running {
				p.setLocked(running)
			}
		}
		return 0, false
	case p.state == running || probe:
		first := p.state == running
		p.trips++
		d := p.delay(p.trips)
		p.until = time.Now().Add(d)
		p.setLocked(paused)
		return d, first
	default:
		return 0, false // already paused: calls in flight when it began
	}
}

// release gives the probe back when its call ended without an outcome
// (no handler call after all): the next waiter probes instead.
func (p *pause) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == probing {
		p.until = time.Now()
		p.setLocked(paused)
	}
}

func (p *pause) setLocked(s pauseState) {
	p.state = s
	close(p.changed)
	p.changed = make(chan struct{})
}

// active reports whether the subscription is paused or probing.
func (p *pause) active() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state != running
}
