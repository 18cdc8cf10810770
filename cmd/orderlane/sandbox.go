package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/sandbox"
	"github.com/orderlane/orderlane/sandbox/lazadasim"
	"github.com/orderlane/orderlane/sandbox/shopeesim"
	"github.com/orderlane/orderlane/sandbox/tiktoksim"
)

// maxTimeFactor bounds --time-factor: beyond it a sale's hours pass in
// microseconds and the receiver, not the schedule, sets the pace.
const maxTimeFactor = 1_000_000

type sandboxFlags struct {
	listen, target                 string
	orders, shops                  int
	seed                           uint64
	timeFactor                     float64
	duplicates, lost, reorder, trk float64
	linger                         time.Duration
	json                           bool
}

func (f *sandboxFlags) validate() error {
	for name, r := range map[string]float64{"--duplicates": f.duplicates, "--lost": f.lost, "--reorder": f.reorder, "--tracking-first": f.trk} {
		if !(r >= 0 && r <= 1) {
			return fmt.Errorf("sandbox: %s %v is not in [0, 1]", name, r)
		}
	}
	switch {
	case f.orders < 1 || f.orders > sandbox.MaxOrders:
		return fmt.Errorf("sandbox: --orders %d is not in [1, %d]", f.orders, sandbox.MaxOrders)
	case f.shops < 1 || f.shops > sandbox.MaxShops:
		return fmt.Errorf("sandbox: --shops %d is not in [1, %d]", f.shops, sandbox.MaxShops)
	case !(f.timeFactor >= 1 && f.timeFactor <= maxTimeFactor):
		return fmt.Errorf("sandbox: --time-factor %v is not in [1, %d]", f.timeFactor, maxTimeFactor)
	}
	if f.target != "" {
		u, err := url.Parse(f.target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("sandbox: --target %q is not an http(s) URL", f.target)
		}
	}
	return nil
}

// runSandbox serves the three marketplace fakes over a generated sale and,
// with --target, delivers the sale's pushes to orderlane's webhooks and
// prints the delivery report.
func runSandbox(args []string, stdout io.Writer) error {
	var f sandboxFlags
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8070", "address the fake marketplace APIs listen on (/shopee, /lazada, /tiktok)")
	fs.StringVar(&f.target, "target", "", "orderlane's base URL (http://host:port): deliver the pushes to its /webhooks/{platform}")
	fs.IntVar(&f.orders, "orders", 30, "orders in the sale, spread over the three marketplaces")
	fs.IntVar(&f.shops, "shops", 2, "shops per marketplace")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the sale and of the delivery scenarios (same seed, same sale)")
	fs.Float64Var(&f.timeFactor, "time-factor", 60, "simulated seconds per real second (60: an hour of sale per minute)")
	fs.Float64Var(&f.duplicates, "duplicates", 0.05, "share of pushes sent twice")
	fs.Float64Var(&f.lost, "lost", 0, "share of pushes never sent (Shopee's go to its lost-push API)")
	fs.Float64Var(&f.reorder, "reorder", 0.1, "share of pushes held back behind a later push of their order")
	fs.Float64Var(&f.trk, "tracking-first", 0.2, "share of status pushes sent after the tracking push that follows them")
	fs.DurationVar(&f.linger, "linger", 0, "with --target: keep serving the APIs this long after the report (negative: until interrupted)")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return playSandbox(ctx, f, stdout, os.Stderr)
}

// playSandbox runs the sandbox until the delivery ends (with a target and
// no --linger) or ctx does. The banner goes to stdout, or to stderr when
// the report is JSON.
func playSandbox(ctx context.Context, f sandboxFlags, stdout, stderr io.Writer) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", f.listen)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	base := "http://" + ln.Addr().String()
	clock, sale, script := newSandboxSale(f, time.Now())

	webhook := func(p order.Platform) string { return strings.TrimRight(f.target, "/") + "/webhooks/" + string(p) }
	// The fakes check request timestamps against the real clock, as the
	// marketplaces do; only their data follows the (faster) sale clock.
	markets := map[order.Platform]sandbox.Marketplace{
		order.Shopee: shopeesim.New(sale, shopeesim.Config{CallbackURL: webhook(order.Shopee)}),
		order.Lazada: lazadasim.New(sale, lazadasim.Config{}),
		order.TikTok: tiktoksim.New(sale, tiktoksim.Config{}),
	}
	mux := http.NewServeMux()
	for p, m := range markets {
		mux.Handle("/"+string(p)+"/", http.StripPrefix("/"+string(p), m.Handler()))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()

	info := stdout
	if f.json {
		info = stderr
	}
	printBanner(info, f, base, sale, script)
	if f.target == "" {
		// No receiver: the sale still unfolds, for the APIs to serve.
		markets = nil
	}
	rep, err := sandbox.Deliver(ctx, script, markets, webhook, sandbox.DeliveryOptions{
		Clock: clock, Duplicates: f.duplicates, Lost: f.lost, Reorder: f.reorder, TrackingFirst: f.trk,
		Rand: rand.New(rand.NewPCG(f.seed, 0x64656c69)),
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if f.target != "" {
		if err := printReport(stdout, rep, f.json); err != nil {
			return err
		}
	}
	linger := f.linger
	if f.target == "" {
		linger = -1
	}
	if ctx.Err() != nil || linger == 0 {
		return nil
	}
	var wait <-chan time.Time
	if linger > 0 {
		t := time.NewTimer(linger)
		defer t.Stop()
		wait = t.C
	}
	fmt.Fprintln(info, "sale over; serving the APIs until interrupted")
	select {
	case <-ctx.Done():
	case <-wait:
	case err := <-served:
		return fmt.Errorf("sandbox: serve: %w", err)
	}
	return nil
}

func printBanner(w io.Writer, f sandboxFlags, base string, sale *sandbox.Sale, script *sandbox.Script) {
	fmt.Fprintf(w, "orderlane sandbox: %d orders, %d changes, %s of sale at x%g (%s real), seed %d\n",
		f.orders, len(script.Steps), script.End.Sub(script.Start).Round(time.Second), f.timeFactor,
		time.Duration(float64(script.End.Sub(script.Start))/f.timeFactor).Round(time.Millisecond), f.seed)
	fmt.Fprintln(w, "app credentials are sandbox test values, NOT SECRET:")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  platform\tapi base url\tapp key\tapp secret\tpush key\twebhook")
	for _, p := range order.Platforms {
		app, _ := sale.App(p)
		hook := "-"
		if f.target != "" {
			hook = strings.TrimRight(f.target, "/") + "/webhooks/" + string(p)
		}
		fmt.Fprintf(tw, "  %s\t%s/%s\t%s\t%s\t%s\t%s\n", p, base, p, app.Key, app.Secret, or(app.PushKey, "-"), hook)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "shops (an authorisation code each, for the consent flow):")
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  platform\tshop id\tcipher\tregion\tauth code")
	for _, p := range order.Platforms {
		for _, sh := range sale.Shops(p) {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", p, sh.ShopID, or(sh.Cipher, "-"), sh.Region, sale.AuthCode(p, sh.ShopID))
		}
	}
	_ = tw.Flush()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func printReport(w io.Writer, rep sandbox.Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "platform\tchanges\tpushes\tsent\tduplicates\treordered\ttracking first\tlost\tattempts\tfailed\tretries\tdelivered\tgave up\tsuccess\twould disable\t")
	for _, p := range rep.Platforms {
		verdict := "no"
		switch {
		case p.Disabled:
			verdict = "YES"
		case p.Warned:
			verdict = "warn"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f%%\t%s\t\n", p.Platform, p.Changes, p.Pushes,
			p.Sent, p.Duplicates, p.Reordered, p.TrackingFirst, p.Lost, p.Attempts, p.Failed, p.Retries, p.Delivered,
			p.GaveUp, 100*p.SuccessRate, verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	byStatus := map[order.Status]int{}
	for _, e := range rep.Truth {
		byStatus[e.Status]++
	}
	fmt.Fprintf(w, "ground truth: %d orders", len(rep.Truth))
	for _, s := range []order.Status{order.StatusCompleted, order.StatusDelivered, order.StatusCancelled, order.StatusReturned} {
		if byStatus[s] > 0 {
			fmt.Fprintf(w, ", %d %s", byStatus[s], s)
		}
	}
	_, err := fmt.Fprintf(w, "; %s simulated in %s\n", rep.End.Sub(rep.Start).Round(time.Second), rep.Wall.Round(time.Millisecond))
	return err
}

// newSandboxSale generates the sale of f on a clock that runs
// --time-factor times faster than real time, started in the past (see
// sandbox.Replay).
func newSandboxSale(f sandboxFlags, now time.Time) (*sandbox.Clock, *sandbox.Sale, *sandbox.Script) {
	return sandbox.Replay(sandbox.Spec{Orders: f.orders, ShopsPerPlatform: f.shops}, f.seed, f.timeFactor, now)
}
