package config_test

import (
	"strings"
	"testing"

	"github.com/orderlane/orderlane/config"
)

func TestDatabaseSettings(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"ORDERLANE_DATABASE_URL":     "postgres://orderlane:secret@db:5432/orderlane?sslmode=verify-full",
		"ORDERLANE_DATABASE_MIGRATE": "manual",
	}
	var c config.Config
	if err := c.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Database.URL != env["ORDERLANE_DATABASE_URL"] || c.Database.Migrate != config.MigrateManual {
		t.Fatalf("database settings: %+v", c.Database)
	}
	if d := (config.Config{}).WithDefaults().Database; d.URL != "" || d.Migrate != config.MigrateAtStart {
		t.Fatalf("defaults: %+v, want SQLite and migrations at start", d)
	}
	for _, bad := range []config.Database{
		{URL: "mysql://db/orders"},
		{URL: "postgres://user:hunter2@/db"},
		{URL: "postgres://db/orders", Migrate: "sometimes"},
	} {
		c := config.Config{Database: bad}.WithDefaults()
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "database.") {
			t.Fatalf("%+v: %v, want an error naming the database field", bad, err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("the error shows the password: %v", err)
		}
	}
}
