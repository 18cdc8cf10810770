package simwire

import (
	"math"
	"testing"
)

func TestLimitsPerKey(t *testing.T) {
	t.Parallel()
	l := NewLimits(0.001, 2) // a token per 1000 s: only the burst passes
	for i := range 2 {
		if !l.Allow("a") {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	if l.Allow("a") {
		t.Fatal("request beyond the burst allowed")
	}
	if !l.Allow("b") {
		t.Fatal("another key shares a's bucket")
	}
}

func TestLimitsOff(t *testing.T) {
	t.Parallel()
	for _, r := range []float64{0, -1, math.NaN()} {
		l := NewLimits(r, 1)
		for range 100 {
			if !l.Allow("a") {
				t.Fatalf("rate %v limited", r)
			}
		}
	}
}

func TestLimitsBurstAtLeastOne(t *testing.T) {
	t.Parallel()
	if l := NewLimits(0.001, 0); !l.Allow("a") || l.Allow("a") {
		t.Fatal("burst 0 is not taken as 1")
	}
}
