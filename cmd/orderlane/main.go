// Command orderlane is the order backbone for marketplace sellers.
//
//	orderlane serve     [--config FILE] [flags]   serve on the embedded default
//	orderlane simulate  [--config FILE] [flags]   send signed pushes to a running server and check the result
//	                    [--sandbox]               the pushes of a sandbox sale, as each marketplace delivers them
//	orderlane bench     [--config FILE] [flags]   measure a running server (see docs/benchmarks.md)
//	orderlane sink      [--addr ADDR]             bare HTTP ceiling for bench
//	orderlane version
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/server"
	"github.com/orderlane/orderlane/simulate"
)

var version = "dev"

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "simulate":
		err = runSimulate(os.Args[2:])
	case "bench":
		err = runBench(os.Args[2:])
	case "sink":
		err = runSink(os.Args[2:])
	case "deadletters":
		err = runDeadLetters(os.Args[2:], os.Stdout)
	case "tokens":
		err = runTokens(os.Args[2:], os.Stdout, os.Stderr)
	case "migrate":
		err = runMigrate(os.Args[2:], os.Stdout)
	case "sandbox":
		err = runSandbox(os.Args[2:], os.Stdout)
	case "version":
		fmt.Println("orderlane", version)
	case "help", "-h", "--help":
		usage(os.Stdout)
	default:
		fmt.Fprintf(os.Stderr, "orderlane: unknown command %q\n\n", os.Args[1])
		usage(os.Stderr)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "orderlane:", err)
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: orderlane <command> [flags]

commands:
  serve      receive marketplace pushes and serve the order API (embedded NATS JetStream + SQLite)
  simulate   send signed pushes for N orders to a running server and check every order's final state
             (--sandbox: a sandbox sale, delivered as each marketplace delivers its pushes)
  bench      load a running server (closed or open loop), optionally beside a bare HTTP sink, and report figures
  sink       a bare HTTP server that reads each body and answers 200 (the ceiling bench compares with)
  tokens     create, list and revoke scoped API tokens (read, admin) in the data dir
  migrate    bring the PostgreSQL schema (ORDERLANE_DATABASE_URL) to this version
  sandbox    serve fake Shopee/Lazada/TikTok Open APIs over a generated sale and deliver its pushes to a server
  version    print the version

Run "orderlane <command> -h" for the command's flags. Settings: docs/configuration.md.
`)
}

// loadConfig reads the YAML file (flag or ORDERLANE_CONFIG), then the
// environment, then applies the flags that were set.
func loadConfig(path string, override func(*config.Config)) (config.Config, error) {
	if path == "" {
		path = os.Getenv("ORDERLANE_CONFIG")
	}
	var c config.Config
	if path != "" {
		if err := c.LoadFile(path); err != nil {
			return c, err
		}
	}
	if err := c.LoadEnv(os.LookupEnv); err != nil {
		return c, err
	}
	override(&c)
	c = c.WithDefaults()
	return c, c.Validate()
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	path := fs.String("config", "", "YAML config file (or ORDERLANE_CONFIG)")
	addr := fs.String("http-addr", "", "HTTP listen address (ORDERLANE_HTTP_ADDR; default :8080)")
	dir := fs.String("data-dir", "", "data directory (ORDERLANE_DATA_DIR; default ./data)")
	fsync := fs.String("fsync", "", `"always" (group commit), "jetstream" (sync_always) or an interval such as 1s (ORDERLANE_FSYNC; default always)`)
	roles := fs.String("roles", "", "what this instance does, comma separated: gateway,worker,api (ORDERLANE_ROLES; default all)")
	_ = fs.Parse(args) // ExitOnError: exits on a bad flag
	cfg, err := loadConfig(*path, func(c *config.Config) {
		set(&c.HTTPAddr, *addr)
		set(&c.DataDir, *dir)
		set(&c.Fsync, *fsync)
		if *roles != "" {
			c.Cluster.Roles = strings.Split(*roles, ",")
		}
	})
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Start is not interrupted by a signal: a SIGTERM during start-up
	// shuts down cleanly once everything is up.
	srv, err := server.Start(context.Background(), cfg, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	log.Info("shutting down: finishing requests and events in flight")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

func runSimulate(args []string) error {
	fs := flag.NewFlagSet("simulate", flag.ExitOnError)
	path := fs.String("config", "", "YAML config file with the same secrets as the server (or ORDERLANE_CONFIG)")
	url := fs.String("url", "", "server base URL (default: from the config's http_addr)")
	orders := fs.Int("orders", 300, "orders to simulate, spread over the configured marketplaces")
	shops := fs.Int("shops", 5, "shops per marketplace")
	conc := fs.Int("concurrency", 32, "parallel senders")
	dup := fs.Float64("duplicates", 0.1, "share of pushes sent twice")
	shuffle := fs.Float64("shuffle", 0.2, "share of orders whose pushes arrive out of order")
	timeout := fs.Duration("apply-timeout", 60*time.Second, "how long to wait for every order's final state")
	seed := fs.Uint64("seed", 0, "random seed (0: random)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	var sb sandboxSimFlags
	sb.register(fs)
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
	if sb.on {
		return simulateSandbox(ctx, os.Stdout, *asJSON, simulate.SandboxOptions{
			BaseURL: base, APIToken: token,
			Shopee: cfg.Shopee, Lazada: cfg.Lazada, TikTok: cfg.TikTok,
			Orders: *orders, Shops: *shops, Seed: *seed, Concurrency: *conc,
			TimeFactor: sb.timeFactor, Duplicates: ratioFlag(*dup), Reorder: ratioFlag(sb.reorder),
			TrackingFirst: ratioFlag(sb.trackingFirst), Lost: sb.lost,
			ApplyTimeout: *timeout, Progress: os.Stderr, Log: newLogger(cfg.LogLevel),
		})
	}
	rep, err := simulate.Run(ctx, simulate.Options{
		BaseURL: base, APIToken: token,
		Shopee: cfg.Shopee, Lazada: cfg.Lazada, TikTok: cfg.TikTok,
		Orders: *orders, Shops: *shops, Concurrency: *conc,
		DuplicateRatio: ratioFlag(*dup), ShuffleRatio: ratioFlag(*shuffle), Seed: *seed,
		ApplyTimeout: *timeout, Progress: os.Stderr,
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := rep.WriteText(os.Stdout); err != nil {
		return err
	}
	if !rep.OK() {
		return errors.New("simulation found problems (see the report)")
	}
	return nil
}

func set(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
