package sandbox

import (
	"math/rand/v2"
	"time"
)

// Replay generates spec's sale from seed (same seed, same sale) on a clock
// that runs factor times faster than real time. The clock starts in the
// past, the sale's whole length before now, so the sale's changes never run
// ahead of real time: orderlane's reconciliation lists orders updated up to
// its own (real) now, and would miss orders stamped in the future. Tokens
// the sale issues outlive it in real time too (orderlane reads their expiry
// against its real clock). Generation is deterministic, so a dry run
// measures the length.
func Replay(spec Spec, seed uint64, factor float64, now time.Time) (*Clock, *Sale, *Script) {
	rng := func() *rand.Rand { return rand.New(rand.NewPCG(seed, 0x73616c65)) }
	dry := Generate(NewSale(func() time.Time { return now }), spec, rng())
	length := dry.End.Sub(dry.Start) + time.Minute
	clock := NewClock(now.Add(-length), factor)
	sale := NewSale(clock.Now)
	sale.AccessTTL = length + 4*time.Hour
	return clock, sale, Generate(sale, spec, rng())
}
