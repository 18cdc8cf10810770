// Package powerloss holds orderlane's power-loss test: it runs the real
// server with its data directory on lazyfs (internal/lazyfs, a FUSE
// filesystem that keeps writes in a page cache of its own and, on a
// simulated power cut, forgets everything not fsynced), drives a storm of
// signed Shopee pushes, cuts the power at random moments (the filesystem
// fails every operation from that instant and drops or tears its unsynced
// state, the server is SIGKILLed), restarts the server on what remains,
// and keeps pushing. When the storm is over it checks through the API
// that
//
//   - every acknowledged push is in its order's history (lost),
//   - no push is in a history twice (duplicated),
//   - each order's history is in push order (reordered), and
//   - each order shows the status of its latest push.
//
// With fsync "always" (the default) there must be no violation; with an
// interval ("1s") acknowledged pushes are lost, which shows that the
// harness sees a loss when there is one.
//
// The server runs as a child process: the test binary itself, started
// again with ORDERLANE_POWERLOSS_CHILD set (see TestMain). The test needs
// /dev/fuse and the right to mount (root); without them it is skipped and
// says why. `go test ./powerloss` (and so `make test`) runs a short
// version: 4 cuts with fsync "always", 2 with "1s", 200 orders each (about
// 30 s with -race); `make powerloss` a long one (CUTS, default 12; ORDERS,
// default 1500; flags -cuts, -orders, -modes, -keep, -fstrace).
package powerloss
