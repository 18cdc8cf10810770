package simulate

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// maxWrong caps Report.Wrong.
const maxWrong = 20

// Report is the outcome of Run. It marshals to JSON with snake_case names.
type Report struct {
	// Seed reproduces the run's decisions (Options.Seed); RunID is the
	// per-run nonce that made its identifiers unique.
	Seed  uint64 `json:"seed"`
	RunID string `json:"run_id"`

	// Orders is how many orders were simulated.
	Orders int `json:"orders"`
	// PushesSent counts deliveries, duplicates included, retries not.
	PushesSent int `json:"pushes_sent"`
	// DuplicatesSent counts the deliveries that resent a push byte for
	// byte.
	DuplicatesSent int `json:"duplicates_sent"`
	// Accepted counts deliveries answered 2xx (after retries, if any).
	Accepted int `json:"accepted"`
	// Failed counts deliveries never accepted: answered with a status
	// that is not retried, or still refused after every retry.
	Failed int `json:"failed"`
	// Retries counts the extra tries after a 503, a 429 or no answer.
	Retries int `json:"retries"`
	// Errors counts every non-2xx answer by status code ("503"), and
	// requests that got no answer as "network"; retried ones included.
	Errors map[string]int `json:"errors"`

	// Mode is "closed" (Concurrency senders as fast as answered) or "open"
	// (deliveries scheduled at TargetRate per second).
	Mode       string  `json:"mode"`
	TargetRate float64 `json:"target_rate,omitempty"`
	// SendSeconds is the duration of the send phase.
	SendSeconds float64 `json:"send_seconds"`
	// AcceptedPerSec is Accepted / SendSeconds.
	AcceptedPerSec float64 `json:"accepted_per_sec"`
	// AckLatencyMS summarises the time from sending a request to its
	// answer, over every answered request, in milliseconds.
	AckLatencyMS Latency `json:"ack_latency_ms"`
	// ApplyLagSeconds is the time from the last acknowledgement until
	// every order whose final status push was accepted showed its final
	// state in the query API; null when some did not within
	// Options.ApplyTimeout.
	ApplyLagSeconds *float64 `json:"apply_lag_seconds"`

	// EventsChecked counts the events read back from the sampled orders'
	// histories (Options.CheckEvents); ApplyLatencyMS summarises, over
	// them, the time from the gateway receiving a push to the order store
	// applying it (both stamped by the server's clock).
	EventsChecked  int     `json:"events_checked"`
	ApplyLatencyMS Latency `json:"apply_latency_ms"`
	// OrderingViolations counts sampled orders whose history applied the
	// acknowledged pushes in another order than they were acknowledged
	// (each order's pushes are sent one after the other, so the topic
	// holds them in that order); MissingEvents counts acknowledged pushes
	// absent from their order's history. Both must be 0.
	OrderingViolations int `json:"ordering_violations"`
	MissingEvents      int `json:"missing_events"`
	// ServerRSSMiB is the server's resident memory after the run, from its
	// /metrics (0 when not available).
	ServerRSSMiB float64 `json:"server_rss_mib"`
	// ServerCPUPerPushUS is the server's CPU time during the send phase
	// (process_cpu_seconds_total from its /metrics, before and after)
	// per accepted push, in microseconds, and ServerCPUCores the same as
	// cores in use; it includes what the server applied meanwhile. 0 when
	// not available.
	ServerCPUPerPushUS float64 `json:"server_cpu_us_per_push"`
	ServerCPUCores     float64 `json:"server_cpu_cores"`

	// OrdersCorrect and OrdersWrong split Orders by whether the query API
	// finally showed the expected status and platform status.
	OrdersCorrect int `json:"orders_correct"`
	OrdersWrong   int `json:"orders_wrong"`
	// Wrong lists up to 20 of the wrong orders.
	Wrong []WrongOrder `json:"wrong"`

	// Platforms breaks the counts down per marketplace, in
	// order.Platforms order; skipped marketplaces are absent.
	Platforms []PlatformReport `json:"platforms"`
}

// Latency is a latency distribution in milliseconds (nearest-rank
// percentiles).
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// WrongOrder is an order that did not show its final state in time.
type WrongOrder struct {
	Platform               string `json:"platform"`
	ShopID                 string `json:"shop_id"`
	OrderID                string `json:"order_id"`
	ExpectedStatus         string `json:"expected_status"`
	GotStatus              string `json:"got_status"`
	ExpectedPlatformStatus string `json:"expected_platform_status"`
	GotPlatformStatus      string `json:"got_platform_status"`
	// Note says why, when the state alone does not: "not found",
	// "final status push not accepted", "HTTP 500", ...
	Note string `json:"note,omitempty"`
}

// PlatformReport holds one marketplace's share of the counts.
type PlatformReport struct {
	Platform      string `json:"platform"`
	Orders        int    `json:"orders"`
	PushesSent    int    `json:"pushes_sent"`
	Accepted      int    `json:"accepted"`
	Failed        int    `json:"failed"`
	OrdersCorrect int    `json:"orders_correct"`
}

// OK reports whether the run found nothing wrong: every order showed its
// final state and every push was eventually accepted (errors that a retry
// overcame are fine).
func (r Report) OK() bool {
	return r.Orders > 0 && r.OrdersCorrect == r.Orders && r.OrdersWrong == 0 && r.Failed == 0 &&
		r.OrderingViolations == 0 && r.MissingEvents == 0
}

// latencyOf summarises d, which it sorts.
func latencyOf(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(d)))) - 1
		return ms(d[max(i, 0)])
	}
	return Latency{P50: at(0.50), P90: at(0.90), P99: at(0.99), P999: at(0.999), Max: ms(d[len(d)-1])}
}

// ms converts d to milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// seconds converts d to seconds, rounded to the millisecond.
func seconds(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)) / 1000
}

// WriteText writes r as a human-readable table.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }

	p("seed %d  run %s\n\n", r.Seed, r.RunID)
	p("\t")
	for _, pr := range r.Platforms {
		p("%s\t", pr.Platform)
	}
	p("total\t\n")
	row := func(name string, get func(PlatformReport) int, total int) {
		p("%s\t", name)
		for _, pr := range r.Platforms {
			p("%d\t", get(pr))
		}
		p("%d\t\n", total)
	}
	row("orders", func(pr PlatformReport) int { return pr.Orders }, r.Orders)
	row("pushes sent", func(pr PlatformReport) int { return pr.PushesSent }, r.PushesSent)
	row("accepted", func(pr PlatformReport) int { return pr.Accepted }, r.Accepted)
	row("failed", func(pr PlatformReport) int { return pr.Failed }, r.Failed)
	row("orders correct", func(pr PlatformReport) int { return pr.OrdersCorrect }, r.OrdersCorrect)
	if err := tw.Flush(); err != nil {
		return err
	}

	p("\nduplicates sent\t%d\n", r.DuplicatesSent)
	p("retries\t%d\n", r.Retries)
	p("errors\t%s\n", formatErrors(r.Errors))
	if r.Mode == "open" {
		p("send\topen loop at %.0f/s: %.2f s, %.0f accepted/s\n", r.TargetRate, r.SendSeconds, r.AcceptedPerSec)
	} else {
		p("send\tclosed loop: %.2f s, %.0f accepted/s\n", r.SendSeconds, r.AcceptedPerSec)
	}
	l := r.AckLatencyMS
	p("ack latency ms\tp50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", l.P50, l.P90, l.P99, l.P999, l.Max)
	if r.ApplyLagSeconds != nil {
		p("apply lag\t%.2f s\n", *r.ApplyLagSeconds)
	} else {
		p("apply lag\tnot every order was applied in time\n")
	}
	if r.EventsChecked > 0 {
		a := r.ApplyLatencyMS
		p("receive to apply ms\tp50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  (%d events)\n", a.P50, a.P90, a.P99, a.P999, a.Max, r.EventsChecked)
		p("ordering violations\t%d\n", r.OrderingViolations)
		p("acked but missing\t%d\n", r.MissingEvents)
	}
	if r.ServerCPUPerPushUS > 0 {
		p("server CPU\t%.0f µs per accepted push during the send (%.2f cores)\n", r.ServerCPUPerPushUS, r.ServerCPUCores)
	}
	if r.ServerRSSMiB > 0 {
		p("server RSS\t%.1f MiB\n", r.ServerRSSMiB)
	}
	p("orders wrong\t%d\n", r.OrdersWrong)
	if r.OK() {
		p("result\tOK\n")
	} else {
		p("result\tFAILED\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(r.Wrong) > 0 {
		p("\nwrong orders (%d of %d):\n", len(r.Wrong), r.OrdersWrong)
		p("platform\tshop_id\torder_id\texpected\tgot\tnote\n")
		for _, o := range r.Wrong {
			p("%s\t%s\t%s\t%s (%s)\t%s (%s)\t%s\n", o.Platform, o.ShopID, o.OrderID,
				o.ExpectedStatus, o.ExpectedPlatformStatus, orDash(o.GotStatus), orDash(o.GotPlatformStatus), o.Note)
		}
	}
	return tw.Flush()
}

// formatErrors renders errors as "401: 3, 503: 12", or "none".
func formatErrors(errs map[string]int) string {
	if len(errs) == 0 {
		return "none"
	}
	keys := slices.SortedFunc(maps.Keys(errs), func(a, b string) int {
		ai, aerr := strconv.Atoi(a)
		bi, berr := strconv.Atoi(b)
		switch {
		case aerr == nil && berr == nil:
			return ai - bi
		case aerr == nil:
			return -1
		case berr == nil:
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, errs[k])
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
