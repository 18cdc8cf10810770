// Package e2e holds orderlane's end-to-end tests. They build the real
// binary once per run, start `orderlane serve` as a child process on a free
// loopback port with a temporary data directory and test secrets, and check
// through its HTTP surface what a marketplace and an API client see across
// SIGKILL, SIGTERM and restarts.
//
// The tests are skipped under -short. Run them with
//
//	go test -race -count=1 ./e2e/
//
// (the race detector applies to the test process; the server is built
// without it, to keep the build fast).
package e2e
