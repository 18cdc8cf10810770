// Package pgtest gives a test an empty PostgreSQL schema of its own on the
// database named by ORDERLANE_TEST_DATABASE_URL, dropped afterwards, so
// tests run in parallel on one database.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the test database.
const EnvURL = "ORDERLANE_TEST_DATABASE_URL"

// Schema is one test's schema.
type Schema struct {
	// Name is the schema; URL connects to the database with it as the
	// search path (what ORDERLANE_DATABASE_URL gets); Base is the database
	// URL as configured.
	Name, URL, Base string
}

// New creates an empty schema for tb, or skips tb when EnvURL is unset.
func New(tb testing.TB, prefix string) Schema {
	tb.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		tb.Skipf("PostgreSQL tests need %s (for example postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvURL)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := prefix + "_" + hex.EncodeToString(b[:])
	exec(tb, base, "CREATE SCHEMA "+name)
	tb.Cleanup(func() { exec(tb, base, "DROP SCHEMA "+name+" CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return Schema{Name: name, URL: u.String(), Base: base}
}

// Connect opens a connection to the schema, closed at the end of the test.
func (s Schema) Connect(tb testing.TB) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(context.Background(), s.URL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec(tb testing.TB, base, sql string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Errorf("%s: %v", EnvURL, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Error(err)
	}
}
