//go:build race

package pushwire

// Under the race detector sync.Pool drops items at random, so pooled code
// allocates: TestAllocs does not run.
func init() { raceEnabled = true }
