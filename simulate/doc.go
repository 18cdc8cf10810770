// Package simulate is a load-and-correctness driver for a running orderlane
// server: it plays Shopee, Lazada and TikTok Shop pushing order updates, then
// checks through the query API that every order ended in the right state.
//
// Run generates realistic, correctly signed pushes for a number of orders
// (each marketplace's real body shapes and order lifecycles, with strictly
// increasing update times per order), delivers them the way marketplaces do
// (concurrently across orders, some pushes twice, some orders out of order;
// 503 and 429 answers, and requests that got no answer, retried after a
// short backoff, up to five tries), measures acknowledgement
// latency and throughput, and finally polls
// GET /api/v1/orders/{platform}/{shop_id}/{order_id} until every order shows
// its final status or Options.ApplyTimeout passes. The Report says how fast
// pushes were acknowledged, how long the server took to apply them, and which
// orders, if any, ended wrong.
//
// RunSandbox drives the server with the marketplace sandbox (package
// sandbox and its fakes) instead: the fakes render a generated sale's pushes
// signed with the server's own secrets, sandbox.Deliver sends them with each
// marketplace's answer deadlines, retry schedules, duplicates and reordering
// on a sped-up clock, and the same polling of the query API checks every
// order against the sale's ground truth (sandbox.Compare).
//
// Decisions (lifecycles, shuffles, duplicates, timings) follow Options.Seed,
// so a run can be repeated; identifiers (shop ids, order ids, message ids)
// also depend on a per-run nonce, so that repeated runs against the same
// server never touch each other's orders.
package simulate
