package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/simulate"
)

// benchResult is bench's JSON output.
type benchResult struct {
	Orderlane simulate.Report  `json:"orderlane"`
	Sink      *simulate.Report `json:"sink,omitempty"`
	// Ratio is orderlane's accepted/s over the sink's, in the same run.
	Ratio float64 `json:"ratio,omitempty"`
}

func runBench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	path := fs.String("config", "", "YAML config file with the same secrets as the server (or ORDERLANE_CONFIG)")
	url := fs.String("url", "", "server base URL (default: from the config's http_addr)")
	orders := fs.Int("orders", 20000, "orders, spread over the configured marketplaces (about 8 pushes each)")
	shops := fs.Int("shops", 50, "shops per marketplace")
	conc := fs.Int("concurrency", 64, "closed loop: parallel connections")
	rate := fs.Float64("rate", 0, "open loop: pushes per second (0: closed loop)")
	dup := fs.Float64("duplicates", 0.05, "share of pushes sent twice")
	shuffle := fs.Float64("shuffle", 0.1, "share of orders whose pushes arrive out of order")
	check := fs.Int("check-events", 2000, "orders whose histories are read back for apply latency and ordering")
	sink := fs.Bool("sink", false, "first measure a bare HTTP sink with the same client, and report the ratio")
	timeout := fs.Duration("apply-timeout", 120*time.Second, "how long to wait for every order's final state")
	seed := fs.Uint64("seed", 1, "random seed (same seed, same decisions)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	jsonFile := fs.String("json-file", "", "also write the result as JSON to this file")
	floodRate := fs.Float64("flood-rate", 0, "throttling load test: a baseline phase of signed pushes at --rate, then the same beside a flood of this many requests/s (see docs/security.md)")
	floodKind := fs.String("flood-kind", "forged", "flood requests: forged (bad signatures) or signed (valid pushes)")
	floodFor := fs.Duration("flood-duration", 10*time.Second, "length of each flood-test phase")
	_ = fs.Parse(args) // ExitOnError: exits on a bad flag
	cfg, err := loadConfig(*path, func(*config.Config) {})
	if err != nil {
		return err
	}
	base := *url
	if base == "" {
		base = cfg.BaseURL()
	}
	token, err := apiTokenOf(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *floodRate > 0 {
		progressOut = os.Stderr
		return runFlood(ctx, floodOptions{BaseURL: base, Token: token, Shopee: cfg.Shopee,
			Rate: max(*rate, 1), FloodRate: *floodRate, Kind: *floodKind, Duration: *floodFor}, *asJSON, os.Stdout)
	}
	opts := simulate.Options{
		BaseURL: base, APIToken: token,
		Shopee: cfg.Shopee, Lazada: cfg.Lazada, TikTok: cfg.TikTok,
		Orders: *orders, Shops: *shops, Concurrency: *conc, Rate: *rate,
		DuplicateRatio: ratioFlag(*dup), ShuffleRatio: ratioFlag(*shuffle), Seed: *seed,
		CheckEvents: *check, ApplyTimeout: *timeout, Progress: os.Stderr,
	}
	var res benchResult
	if *sink {
		fmt.Fprintln(os.Stderr, "bare HTTP sink:")
		rep, err := benchSink(ctx, opts)
		if err != nil {
			return fmt.Errorf("sink: %w", err)
		}
		res.Sink = &rep
		fmt.Fprintln(os.Stderr, "orderlane:")
	}
	res.Orderlane, err = simulate.Run(ctx, opts)
	if err != nil {
		return err
	}
	if res.Sink != nil && res.Sink.AcceptedPerSec > 0 {
		res.Ratio = float64(int(res.Orderlane.AcceptedPerSec/res.Sink.AcceptedPerSec*1000)) / 1000
	}
	if *jsonFile != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonFile, append(b, '\n'), 0o644); err != nil { // #nosec G306 -- a report, not a secret
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		if err := res.Orderlane.WriteText(os.Stdout); err != nil {
			return err
		}
		if res.Sink != nil {
			l := res.Sink.AckLatencyMS
			fmt.Printf("\nbare HTTP sink     %.0f accepted/s, ack p50 %.2f ms p99 %.2f ms\n", res.Sink.AcceptedPerSec, l.P50, l.P99)
			fmt.Printf("orderlane / sink   %.1f%%\n", res.Ratio*100)
		}
	}
	if !res.Orderlane.OK() {
		return errors.New("bench found problems (see the report)")
	}
	return nil
}

// benchSink runs the send phase against `orderlane sink` in a child
// process, so that it costs what a separate server process costs.
func benchSink(ctx context.Context, opts simulate.Options) (simulate.Report, error) {
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return simulate.Report{}, err
	}
	addr := l.Addr().String()
	l.Close()
	self, err := os.Executable()
	if err != nil {
		return simulate.Report{}, err
	}
	cmd := exec.CommandContext(ctx, self, "sink", "--addr", addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return simulate.Report{}, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return simulate.Report{}, fmt.Errorf("sink not listening on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	opts.BaseURL, opts.SendOnly = "http://"+addr, true
	return simulate.Run(ctx, opts)
}

func runSink(args []string) error {
	fs := flag.NewFlagSet("sink", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	_ = fs.Parse(args) // ExitOnError: exits on a bad flag
	srv := &http.Server{Addr: *addr, Handler: simulate.SinkHandler(), ReadHeaderTimeout: 5 * time.Second}
	return srv.ListenAndServe()
}

// apiTokenOf returns the configured API token, or the one the server
// generated into its data dir.
func apiTokenOf(cfg config.Config) (string, error) {
	if cfg.APIToken != "" {
		return cfg.APIToken, nil
	}
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, "api-token"))
	if err != nil {
		return "", fmt.Errorf("no api_token in the config and none in the data dir: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// ratioFlag maps an explicit 0 to "off" (the simulator reads 0 as
// "default").
func ratioFlag(r float64) float64 {
	if r == 0 {
		return -1
	}
	return r
}
