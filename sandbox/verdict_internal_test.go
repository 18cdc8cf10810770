package sandbox

import (
	"testing"
	"time"
)

func TestShopeeVerdict(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	recs := func(n, ok int, spread time.Duration) []attemptRec {
		out := make([]attemptRec, n)
		for i := range out {
			out[i] = attemptRec{at: start.Add(spread * time.Duration(i) / time.Duration(n)), ok: i < ok}
		}
		return out
	}
	for _, c := range []struct {
		name           string
		recs           []attemptRec
		disabled, warn bool
	}{
		{"few pushes, all failed", recs(600, 0, time.Hour), false, false},
		{"601 in 6h, 20% success", recs(601, 120, 5*time.Hour), true, true},
		{"601 in 6h, 50% success", recs(601, 300, 5*time.Hour), false, true},
		{"601 in 6h, 80% success", recs(601, 481, 5*time.Hour), false, false},
		{"700 failures over 12h", recs(700, 0, 12*time.Hour), false, false},
	} {
		d, w := shopeeVerdict(c.recs)
		if d != c.disabled || w != c.warn {
			t.Errorf("%s: disabled %v warned %v, want %v %v", c.name, d, w, c.disabled, c.warn)
		}
	}
}
