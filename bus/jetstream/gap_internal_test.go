package jetstream

import (
	"io"
	"log/slog"
	"testing"
)

// TestGapStopsQueueingAndAsksForRestart: a consumer sequence that skips a
// delivery stops the subscription from queueing anything more and calls
// for a restart once; numbers that go back (a new consumer leader sending
// again) are not gaps.
func TestGapStopsQueueingAndAsksForRestart(t *testing.T) {
	calls := make(chan struct{}, 10)
	s := &subscription{log: slog.New(slog.NewTextHandler(io.Discard, nil)), onGap: func() { calls <- struct{}{} }}
	for _, c := range []uint64{1, 2, 3, 2, 3, 4} {
		if s.gap(c) {
			t.Fatalf("delivery %d reported as a gap", c)
		}
	}
	if !s.gap(6) {
		t.Fatal("delivery 6 after 4 not reported as a gap")
	}
	if !s.gap(5) || !s.gap(7) {
		t.Fatal("deliveries after a gap must not be queued until the restart")
	}
	<-calls
	select {
	case <-calls:
		t.Fatal("restart asked for twice")
	default:
	}
}
