package config_test

import (
	"testing"
	"time"

	"github.com/orderlane/orderlane/config"
)

// TestFsync: "always" (the default) and "jetstream" fsync before every
// acknowledgement; an interval does not; anything else is refused.
func TestFsync(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fsync    string
		safe     bool
		interval time.Duration
		bad      bool
	}{
		{fsync: "", safe: true}, // the default
		{fsync: "always", safe: true},
		{fsync: "jetstream", safe: true},
		{fsync: "1s", interval: time.Second},
		{fsync: "2m", interval: 2 * time.Minute},
		{fsync: "never", bad: true},
		{fsync: "0s", bad: true},
		{fsync: "-1s", bad: true},
	} {
		c := config.Config{Fsync: tc.fsync}.WithDefaults()
		err := c.Validate()
		if tc.bad {
			if err == nil {
				t.Errorf("fsync %q: valid, want an error", tc.fsync)
			}
			continue
		}
		if err != nil {
			t.Errorf("fsync %q: %v", tc.fsync, err)
			continue
		}
		d, _ := c.FsyncInterval()
		if c.PowerLossSafe() != tc.safe || d != tc.interval {
			t.Errorf("fsync %q: power-loss safe %v, interval %s; want %v, %s", tc.fsync, c.PowerLossSafe(), d, tc.safe, tc.interval)
		}
	}
}
