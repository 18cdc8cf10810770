package simulate

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/orderlane/orderlane/order"
)

// Run simulates the marketplaces against the orderlane server at
// o.BaseURL: it generates and sends the pushes, then polls the query API
// until every order shows its final state or o.ApplyTimeout passes, and
// reports what it measured. A Report with OK() false is not an error: Run
// returns an error for bad options, an API token the server refuses
// (ErrUnauthorized) or a done ctx, together with the report so far.
func Run(ctx context.Context, o Options) (Report, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return Report{}, err
	}
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64() | 1
	}
	nonce := rand.Uint64()
	rep := Report{
		Seed:   seed,
		RunID:  fmt.Sprintf("%016x", nonce),
		Orders: o.Orders,
		Errors: map[string]int{},
		Wrong:  []WrongOrder{},
	}

	plans, err := newGenerator(o, seed, nonce, time.Now()).generate()
	if err != nil {
		return rep, err
	}
	client, own := o.client()
	if own {
		defer client.CloseIdleConnections()
	}

	stats := &sendStats{byCode: map[string]int{}}
	for _, p := range plans {
		stats.total += int64(len(p.sends))
	}
	v := &verifier{client: client, baseURL: o.BaseURL, token: o.APIToken, concurrency: o.Concurrency}
	prog := startProgress(o.Progress, stats, &v.correct, len(plans))
	defer prog.close()

	s := &sender{client: client, baseURL: o.BaseURL, stats: stats}
	cpu0, cpuOK := v.metric(ctx, "process_cpu_seconds_total")
	start := time.Now()
	var latencies []time.Duration
	if o.Rate > 0 {
		rep.Mode, rep.TargetRate = "open", o.Rate
		latencies = s.runOpen(ctx, plans, o.Rate)
	} else {
		rep.Mode = "closed"
		latencies = s.run(ctx, plans, o.Concurrency)
	}
	sendEnd := time.Now()
	prog.sent(sendEnd)

	rep.PushesSent = int(stats.sent.Load())
	rep.DuplicatesSent = int(stats.duplicates.Load())
	rep.Accepted = int(stats.accepted.Load())
	rep.Failed = int(stats.failed.Load())
	rep.Retries = int(stats.retries.Load())
	stats.mu.Lock()
	for k, n := range stats.byCode {
		rep.Errors[k] = n
	}
	stats.mu.Unlock()
	rep.SendSeconds = seconds(sendEnd.Sub(start))
	if d := sendEnd.Sub(start).Seconds(); d > 0 {
		rep.AcceptedPerSec = math.Round(float64(rep.Accepted)/d*10) / 10
	}
	rep.AckLatencyMS = latencyOf(latencies)
	if cpu1, ok := v.metric(ctx, "process_cpu_seconds_total"); cpuOK && ok && rep.Accepted > 0 && rep.SendSeconds > 0 {
		used := cpu1 - cpu0
		rep.ServerCPUPerPushUS = math.Round(used/float64(rep.Accepted)*1e7) / 10
		rep.ServerCPUCores = math.Round(used/rep.SendSeconds*100) / 100
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if o.SendOnly {
		prog.close()
		return rep, nil
	}

	got, allRight, err := v.run(ctx, plans, sendEnd.Add(o.ApplyTimeout))
	if !allRight.IsZero() {
		lag := seconds(allRight.Sub(sendEnd))
		rep.ApplyLagSeconds = &lag
	}
	rep.tally(plans, got, o.platforms())
	if err != nil {
		return rep, err
	}
	prog.close()
	if o.CheckEvents > 0 {
		if err := v.checkEvents(ctx, sample(plans, o.CheckEvents), &rep); err != nil {
			return rep, err
		}
	}
	rep.ServerRSSMiB = v.serverRSS(ctx)
	return rep, nil
}

// sample returns up to n plans spread evenly over plans.
func sample(plans []*orderPlan, n int) []*orderPlan {
	if n >= len(plans) {
		return plans
	}
	out := make([]*orderPlan, 0, n)
	for i := range n {
		out = append(out, plans[i*len(plans)/n])
	}
	return out
}

// tally fills the per-order counts of r from the plans and what the query
// API showed.
func (r *Report) tally(plans []*orderPlan, got []observed, platforms []order.Platform) {
	byPlatform := map[order.Platform]*PlatformReport{}
	for _, p := range platforms {
		r.Platforms = append(r.Platforms, PlatformReport{Platform: string(p)})
	}
	for i := range r.Platforms {
		byPlatform[order.Platform(r.Platforms[i].Platform)] = &r.Platforms[i]
	}
	var wrong []WrongOrder
	for i, plan := range plans {
		pr := byPlatform[plan.platform]
		pr.Orders++
		pr.PushesSent += plan.sent
		pr.Failed += plan.failed
		pr.Accepted += plan.sent - plan.failed
		if got[i].right(plan) {
			r.OrdersCorrect++
			pr.OrdersCorrect++
			continue
		}
		r.OrdersWrong++
		note := got[i].note
		if !plan.finalAccepted {
			note = "final status push not accepted"
		}
		wrong = append(wrong, WrongOrder{
			Platform:               string(plan.platform),
			ShopID:                 plan.shopID,
			OrderID:                plan.orderID,
			ExpectedStatus:         string(plan.finalStatus),
			GotStatus:              got[i].status,
			ExpectedPlatformStatus: plan.finalRaw,
			GotPlatformStatus:      got[i].platformStatus,
			Note:                   note,
		})
	}
	slices.SortFunc(wrong, func(a, b WrongOrder) int {
		return strings.Compare(a.Platform+"/"+a.ShopID+"/"+a.OrderID, b.Platform+"/"+b.ShopID+"/"+b.OrderID)
	})
	r.Wrong = append(r.Wrong, wrong[:min(len(wrong), maxWrong)]...)
}
