package server

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/orderlane/orderlane/audit"
	"github.com/orderlane/orderlane/config"
	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/store/postgres"
	"github.com/orderlane/orderlane/store/sqlite"
)

// orderStore is what the server needs of the order store: the repository
// for the orders subscription and the API, the audit log, and Close.
type orderStore interface {
	order.Repository
	audit.Log
	Close() error
}

// openStore opens PostgreSQL when db.URL is set (config.Config.Database),
// else SQLite in dataDir with the given synchronous mode.
func openStore(ctx context.Context, db config.Database, dataDir, synchronous string, log *slog.Logger) (orderStore, error) {
	if db.URL != "" {
		s, err := postgres.Open(ctx, postgres.Config{
			URL:       db.URL,
			NoMigrate: db.Migrate == config.MigrateManual,
			Logger:    log,
		})
		if err != nil {
			return nil, err
		}
		log.Info("order store: postgresql", "schema_version", postgres.SchemaVersion())
		return s, nil
	}
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dataDir, "orderlane.db"), Synchronous: synchronous})
	if err != nil {
		return nil, err
	}
	return s, nil
}
