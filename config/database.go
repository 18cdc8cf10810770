package config

import (
	"errors"
	"fmt"
	"net/url"
)

// Database selects PostgreSQL for the orders and the audit log, for
// deployments with several orderlane instances. Unset (the default), they
// live in SQLite in the data dir.
type Database struct {
	// URL is postgres://user:password@host:5432/db?sslmode=verify-full
	// (ORDERLANE_DATABASE_URL); tables go into the first schema of its
	// search_path. It carries the credentials: keep it secret.
	URL string `yaml:"url"`
	// Migrate is when the schema is migrated (ORDERLANE_DATABASE_MIGRATE):
	// "start" (the default) at every start, safe with many instances
	// starting at once; "manual" only by `orderlane migrate`, and a start
	// against an older schema fails.
	Migrate string `yaml:"migrate"`
}

// The Database.Migrate values.
const (
	MigrateAtStart = "start"
	MigrateManual  = "manual"
)

func (d Database) withDefaults() Database {
	if d.Migrate == "" {
		d.Migrate = MigrateAtStart
	}
	return d
}

// validate checks the URL's form without echoing it: it carries the
// password.
func (d Database) validate() error {
	switch d.Migrate {
	case MigrateAtStart, MigrateManual:
	default:
		return fmt.Errorf("config: database.migrate %q: want %s or %s", d.Migrate, MigrateAtStart, MigrateManual)
	}
	if d.URL == "" {
		return nil
	}
	u, err := url.Parse(d.URL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return errors.New("config: database.url: want a postgres:// URL such as postgres://user:password@host:5432/db?sslmode=require")
	}
	return nil
}

func (d *Database) env() []envVar {
	return []envVar{
		{"ORDERLANE_DATABASE_URL", &d.URL},
		{"ORDERLANE_DATABASE_MIGRATE", &d.Migrate},
	}
}
