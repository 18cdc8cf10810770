package sandbox

import "time"

// Clock is the sale's simulated time: from origin it runs factor times as
// fast as the wall clock, so a sale spanning hours replays in seconds. Give
// its Now to NewSale so that the fakes' APIs see the same time as the
// delivery engine. It is safe for concurrent use (it never changes).
type Clock struct {
	origin time.Time // simulated time at wall
	wall   time.Time // wall time (with its monotonic reading) at creation
	factor float64
}

// NewClock returns a clock that reads origin now and advances factor
// simulated seconds per wall second. A factor below 1 (or NaN) is taken
// as 1.
func NewClock(origin time.Time, factor float64) *Clock {
	if !(factor >= 1) {
		factor = 1
	}
	return &Clock{origin: origin, wall: time.Now(), factor: factor}
}

// Now is the simulated time.
func (c *Clock) Now() time.Time {
	return c.origin.Add(time.Duration(float64(time.Since(c.wall)) * c.factor))
}

// Factor is how many simulated seconds pass per wall second.
func (c *Clock) Factor() float64 { return c.factor }

// Wall converts a simulated duration into wall time.
func (c *Clock) Wall(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.factor)
}

// Until is the wall time left before the clock reads t (<= 0 once past).
func (c *Clock) Until(t time.Time) time.Duration { return c.Wall(t.Sub(c.Now())) }
