// Package chaos is orderlane's chaos harness. It builds the real binary,
// runs `orderlane serve` on a loopback port and a temporary data dir, and
// pushes a storm of signed Shopee, Lazada and TikTok Shop order pushes at
// it from many senders (each order's pushes one after the other, some sent
// twice, a few of them poison: accepted by the gateway but never
// applicable, because their update time lies days in the future). While
// the storm runs it kills the server with SIGKILL at random moments and
// restarts it on the same data dir; senders retry every push until it is
// answered 200, as a marketplace does.
//
// At the end it waits until both subscriptions are idle and checks, through
// the HTTP API only:
//
//   - lost: every acknowledged push (poison aside) is in its order's history;
//   - duplicated: no event is applied twice;
//   - reordered: each order's acknowledged pushes were applied in the order
//     they were acknowledged, and its status is that of its latest push;
//   - dead letters: exactly the injected poison pushes, once each, all from
//     the orders subscription, and none of them applied.
//
// It prints the counts (pushes acknowledged, kills, lost, duplicated,
// reordered, dead letters) and fails on any violation.
//
// `make test` runs a short version (2 kills); `make chaos` the long one:
//
//	go test -count=1 -v -run TestChaos ./chaos -chaos.kills=6
//
// Skipped under -short.
package chaos
