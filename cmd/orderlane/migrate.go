package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/store/postgres"
)

// runMigrate brings the PostgreSQL schema (ORDERLANE_DATABASE_URL) to this
// binary's version and says what it applied. Safe to run while instances
// start or serve: migrations take an advisory lock, and each commits with
// its schema_migrations row.
func runMigrate(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ExitOnError)
	path := fs.String("config", "", "YAML config file (or ORDERLANE_CONFIG)")
	dbURL := fs.String("database-url", "", "PostgreSQL URL (ORDERLANE_DATABASE_URL)")
	_ = fs.Parse(args) // ExitOnError: exits on a bad flag
	cfg, err := loadConfig(*path, func(c *config.Config) { set(&c.Database.URL, *dbURL) })
	if err != nil {
		return err
	}
	if cfg.Database.URL == "" {
		return errors.New("migrate: no database: set ORDERLANE_DATABASE_URL or --database-url (SQLite migrates itself at start)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	applied, err := postgres.Migrate(ctx, cfg.Database.URL)
	for _, m := range applied {
		fmt.Fprintln(out, "applied", m)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "schema at version %d\n", postgres.SchemaVersion())
	return nil
}
