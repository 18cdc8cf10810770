package simulate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/order"
)

// testOptions returns light options for a run against f.
func testOptions(f *fakeServer) Options {
	return Options{
		BaseURL:      f.URL,
		APIToken:     testToken,
		Shopee:       testShopee,
		Lazada:       testLazada,
		TikTok:       testTikTok,
		Orders:       60,
		Shops:        3,
		Concurrency:  8,
		Seed:         42,
		ApplyTimeout: 10 * time.Second,
	}
}

func run(t *testing.T, o Options) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func TestRunAllCorrect(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, nil)
	o := testOptions(f)
	var progress bytes.Buffer
	o.Progress = &progress
	rep := run(t, o)

	if !rep.OK() {
		var b strings.Builder
		rep.WriteText(&b)
		t.Fatalf("report not OK:\n%s", b.String())
	}
	if rep.Orders != 60 || rep.OrdersCorrect != 60 || rep.OrdersWrong != 0 || len(rep.Wrong) != 0 {
		t.Fatalf("orders %d correct %d wrong %d %v", rep.Orders, rep.OrdersCorrect, rep.OrdersWrong, rep.Wrong)
	}
	if rep.DuplicatesSent == 0 {
		t.Fatalf("duplicates_sent = 0")
	}
	if rep.Accepted != rep.PushesSent || rep.Failed != 0 || len(rep.Errors) != 0 || rep.Retries != 0 {
		t.Fatalf("accepted %d of %d, failed %d, errors %v, retries %d", rep.Accepted, rep.PushesSent, rep.Failed, rep.Errors, rep.Retries)
	}
	l := rep.AckLatencyMS
	if l.P50 <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
		t.Fatalf("ack latency not populated or not ordered: %+v", l)
	}
	if rep.SendSeconds <= 0 || rep.AcceptedPerSec <= 0 || rep.ApplyLagSeconds == nil || *rep.ApplyLagSeconds < 0 {
		t.Fatalf("send %v s, %v/s, apply lag %v", rep.SendSeconds, rep.AcceptedPerSec, rep.ApplyLagSeconds)
	}
	if len(rep.Platforms) != 3 {
		t.Fatalf("platforms = %+v", rep.Platforms)
	}
	// The fake reports 1 ms of CPU per push request it received: retries
	// and duplicates included, so at least 1,000 µs per accepted push.
	if rep.ServerCPUPerPushUS < 1000 || rep.ServerCPUPerPushUS > 1100 || rep.ServerCPUCores <= 0 || rep.ServerRSSMiB != 100 {
		t.Fatalf("server CPU %v µs per push, %v cores, RSS %v MiB; want ~1000 µs (the fake's), >0 cores, 100 MiB",
			rep.ServerCPUPerPushUS, rep.ServerCPUCores, rep.ServerRSSMiB)
	}
	sum := 0
	for i, pr := range rep.Platforms {
		if pr.Platform != string(order.Platforms[i]) || pr.Orders != 20 || pr.OrdersCorrect != 20 || pr.Accepted != pr.PushesSent {
			t.Fatalf("platform report %+v", pr)
		}
		sum += pr.PushesSent
	}
	if sum != rep.PushesSent {
		t.Fatalf("per-platform pushes %d, total %d", sum, rep.PushesSent)
	}

	// The server saw what the run claims: every order, the duplicates,
	// and out-of-order (stale) statuses from the shuffled orders.
	orders, _, dupes, stale := f.counts()
	if orders != 60 {
		t.Fatalf("server has %d orders, want 60", orders)
	}
	if dupes < rep.DuplicatesSent {
		t.Fatalf("server deduplicated %d pushes, run sent %d duplicates", dupes, rep.DuplicatesSent)
	}
	if stale == 0 {
		t.Fatalf("no push arrived out of order")
	}

	if p := progress.String(); !strings.Contains(p, "\rsent ") || !strings.Contains(p, "applied 60/60") || !strings.HasSuffix(p, "\n") {
		t.Fatalf("progress output %q", p)
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"shopee", "lazada", "tiktok", "orders correct", "ack latency ms", "server CPU", "result", "OK"} {
		if !strings.Contains(text.String(), want) {
			t.Fatalf("WriteText lacks %q:\n%s", want, text.String())
		}
	}
}

func TestRunRetriesDroppedPushes(t *testing.T) {
	t.Parallel()
	// Answer 503 to the first arrival of about 10% of the pushes.
	f := newFakeServer(t, func(body []byte) bool { return sha256.Sum256(body)[0] < 26 })
	rep := run(t, testOptions(f))

	_, dropped, _, _ := f.counts()
	if dropped == 0 {
		t.Fatalf("the server dropped nothing")
	}
	if !rep.OK() || rep.OrdersCorrect != rep.Orders {
		t.Fatalf("report not OK after retries: %+v", rep)
	}
	if rep.Retries != dropped || rep.Errors["503"] != dropped || len(rep.Errors) != 1 {
		t.Fatalf("retries %d, errors %v; server dropped %d", rep.Retries, rep.Errors, dropped)
	}
	if rep.Accepted != rep.PushesSent || rep.Failed != 0 {
		t.Fatalf("accepted %d of %d, failed %d", rep.Accepted, rep.PushesSent, rep.Failed)
	}
}

func TestRunWrongSecret(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, nil)
	o := testOptions(f)
	o.Lazada.AppSecret = "not-the-secret"
	rep := run(t, o)

	if rep.OK() {
		t.Fatalf("OK() with a wrong Lazada secret")
	}
	var lazadaPushes int
	for _, pr := range rep.Platforms {
		switch pr.Platform {
		case string(order.Lazada):
			lazadaPushes = pr.PushesSent
			if pr.Accepted != 0 || pr.OrdersCorrect != 0 {
				t.Fatalf("lazada %+v", pr)
			}
		default:
			if pr.Accepted != pr.PushesSent || pr.OrdersCorrect != pr.Orders {
				t.Fatalf("%s %+v", pr.Platform, pr)
			}
		}
	}
	if rep.Errors["401"] != lazadaPushes || rep.Failed != lazadaPushes || int(f.rejected.Load()) != lazadaPushes {
		t.Fatalf("errors %v, failed %d, server rejected %d; lazada pushes %d", rep.Errors, rep.Failed, f.rejected.Load(), lazadaPushes)
	}
	if rep.OrdersWrong != 20 || len(rep.Wrong) != 20 {
		t.Fatalf("orders wrong %d, listed %d", rep.OrdersWrong, len(rep.Wrong))
	}
	for _, w := range rep.Wrong {
		if w.Platform != "lazada" || w.GotStatus != "" || w.ExpectedStatus == "" || w.Note != "final status push not accepted" {
			t.Fatalf("wrong order %+v", w)
		}
	}
}

func TestRunBadAPIToken(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, nil)
	o := testOptions(f)
	o.APIToken = "nope"
	o.Orders = 6
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, o)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Run = %v, want ErrUnauthorized", err)
	}
	if rep.Accepted != rep.PushesSent || rep.OK() {
		t.Fatalf("report %+v", rep)
	}
}

func TestRunOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no base URL", Options{APIToken: "t", Lazada: testLazada}, "BaseURL is required"},
		{"bad base URL", Options{BaseURL: "127.0.0.1:8080", APIToken: "t", Lazada: testLazada}, "BaseURL"},
		{"no token", Options{BaseURL: "http://x", Lazada: testLazada}, "APIToken"},
		{"no secrets", Options{BaseURL: "http://x", APIToken: "t", Shopee: config.Shopee{PushKey: "k"}}, "no marketplace"},
		{"ratio above 1", Options{BaseURL: "http://x", APIToken: "t", Lazada: testLazada, DuplicateRatio: 2}, "DuplicateRatio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Run(t.Context(), tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

func TestReportJSON(t *testing.T) {
	t.Parallel()
	lag := 0.25
	b, err := json.Marshal(Report{Errors: map[string]int{"503": 2}, ApplyLagSeconds: &lag, Wrong: []WrongOrder{{Platform: "shopee"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		"orders", "pushes_sent", "duplicates_sent", "accepted", "errors", "send_seconds", "accepted_per_sec",
		"ack_latency_ms", "p50", "p90", "p99", "p999", "max", "apply_lag_seconds", "orders_correct",
		"orders_wrong", "wrong", "expected_status", "got_status", "expected_platform_status", "got_platform_status",
	} {
		if !bytes.Contains(b, []byte(`"`+key+`":`)) {
			t.Fatalf("JSON lacks %q: %s", key, b)
		}
	}
}

func TestLatencyOf(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 1000; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	got := latencyOf(d)
	want := Latency{P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000}
	if got != want {
		t.Fatalf("latencyOf = %+v, want %+v", got, want)
	}
	if latencyOf(nil) != (Latency{}) {
		t.Fatalf("latencyOf(nil) not zero")
	}
}

// TestRunChecksHistories: the sampled histories are read, and every
// acknowledged push is found in acknowledgement order.
func TestRunChecksHistories(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, nil)
	rep := run(t, testOptions(f))
	if rep.EventsChecked == 0 || rep.MissingEvents != 0 || rep.OrderingViolations != 0 {
		t.Fatalf("events checked %d, missing %d, violations %d", rep.EventsChecked, rep.MissingEvents, rep.OrderingViolations)
	}
	if a := rep.ApplyLatencyMS; a.Max < a.P50 || a.P50 < 0 {
		t.Fatalf("apply latency %+v", a)
	}
}

// TestRunDetectsOutOfOrderApply: a server whose histories show events out
// of acknowledgement order fails the run.
func TestRunDetectsOutOfOrderApply(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, nil)
	f.swapHistory = true
	o := testOptions(f)
	o.ShuffleRatio, o.DuplicateRatio = -1, -1
	rep := run(t, o)
	if rep.OrderingViolations == 0 || rep.OK() {
		t.Fatalf("violations %d, OK %v: the swapped histories went unnoticed", rep.OrderingViolations, rep.OK())
	}
}

// TestRunOpenLoop: the open-loop schedule delivers everything, in order per
// order, at about the target rate.
func TestRunOpenLoop(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, nil)
	o := testOptions(f)
	o.Rate = 2000
	rep := run(t, o)
	if !rep.OK() || rep.Mode != "open" || rep.TargetRate != 2000 {
		t.Fatalf("open loop report: %+v", rep)
	}
	// ~470 deliveries at 2000/s take about 0.24 s; far faster means the
	// schedule was ignored.
	if min := float64(rep.PushesSent) / 2000 * 0.8; rep.SendSeconds < min {
		t.Fatalf("sent %d in %.3f s, faster than the %v/s schedule allows", rep.PushesSent, rep.SendSeconds, o.Rate)
	}
}

// TestSendOnlyAgainstSink: the bare sink takes every push and the run skips
// the checks.
func TestSendOnlyAgainstSink(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(SinkHandler())
	defer srv.Close()
	o := testOptions(&fakeServer{Server: srv})
	o.APIToken, o.SendOnly = "", true
	rep := run(t, o)
	if rep.Accepted != rep.PushesSent || rep.Accepted == 0 || rep.OrdersCorrect != 0 {
		t.Fatalf("sink run: %+v", rep)
	}
}
