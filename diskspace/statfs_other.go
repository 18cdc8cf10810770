//go:build !linux && !darwin

package diskspace

import "math"

// available is unknown here: the disk never counts as nearly full.
func available(string) (int64, error) { return math.MaxInt64, nil }
