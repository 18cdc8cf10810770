package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orderlane/orderlane/order"
	"github.com/orderlane/orderlane/store/postgres"
	"github.com/orderlane/orderlane/store/storetest"
)

// envURL names the database the tests use. Each test gets its own schema
// in it, dropped afterwards, so tests run in parallel.
const envURL = "ORDERLANE_TEST_DATABASE_URL"

// database is one test's schema.
type database struct {
	// url selects the schema (search_path) and tags the connections
	// (application_name) so a test can find and cut them.
	url, schema string
}

// newDatabase creates an empty schema for t, or skips t when no test
// database is configured.
func newDatabase(tb testing.TB) database {
	tb.Helper()
	base := os.Getenv(envURL)
	if base == "" {
		tb.Skipf("PostgreSQL tests need %s (for example postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", envURL)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "orderlane_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("%s: %v", envURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return database{url: withParams(tb, base, map[string]string{"search_path": schema, "application_name": schema}), schema: schema}
}

// withParams adds run-time parameters to a URL or key=value connection
// string.
func withParams(tb testing.TB, base string, params map[string]string) string {
	tb.Helper()
	if strings.Contains(base, "://") {
		u, err := url.Parse(base)
		if err != nil {
			tb.Fatal(err)
		}
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for k, v := range params {
		base += " " + k + "=" + v
	}
	return base
}

func (d database) open(tb testing.TB, cfg postgres.Config) *postgres.Store {
	tb.Helper()
	cfg.URL = d.url
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := postgres.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the repository conformance suite (store/storetest)
// on PostgreSQL, each case in its own schema.
func TestConformance(t *testing.T) {
	t.Parallel()
	if os.Getenv(envURL) == "" {
		t.Skipf("PostgreSQL tests need %s", envURL)
	}
	storetest.Run(t, storetest.Driver{
		NewDatabase: func(t *testing.T) func(*testing.T) storetest.Store {
			db := newDatabase(t)
			return func(t *testing.T) storetest.Store { return db.open(t, postgres.Config{}) }
		},
		ErrClosed: postgres.ErrClosed,
	})
}

// TestMigrateConcurrently: many processes starting at once on an empty
// schema apply each migration exactly once, and all of them succeed.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	db := newDatabase(t)
	ctx := context.Background()
	const n = 6
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied []string
	)
	for range n {
		wg.Go(func() {
			names, err := postgres.Migrate(ctx, db.url)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			applied = append(applied, names...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(applied) != postgres.SchemaVersion() {
		t.Fatalf("migrations applied %v over %d concurrent runs, want each of %d once", applied, n, postgres.SchemaVersion())
	}
	conn, err := pgx.Connect(ctx, db.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, maxV int
	if err := conn.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&rows, &maxV); err != nil {
		t.Fatal(err)
	}
	if rows != postgres.SchemaVersion() || maxV != postgres.SchemaVersion() {
		t.Fatalf("schema_migrations: %d rows, max version %d", rows, maxV)
	}
	if again, err := postgres.Migrate(ctx, db.url); err != nil || len(again) != 0 {
		t.Fatalf("migrating a current schema: %v %v, want nothing to do", again, err)
	}
}

// TestSchemaVersionIsChecked: a binary refuses a schema newer than it
// knows, and with NoMigrate an unmigrated one.
func TestSchemaVersionIsChecked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	fresh := newDatabase(t)
	if _, err := postgres.Open(ctx, postgres.Config{URL: fresh.url, NoMigrate: true}); err == nil || !strings.Contains(err.Error(), "orderlane migrate") {
		t.Fatalf("NoMigrate on an empty schema: %v, want a hint to run orderlane migrate", err)
	}
	if _, err := postgres.Migrate(ctx, fresh.url); err != nil {
		t.Fatal(err)
	}
	fresh.open(t, postgres.Config{NoMigrate: true})

	newer := newDatabase(t)
	if _, err := postgres.Migrate(ctx, newer.url); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, newer.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (999, '0999_from_the_future')`); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(ctx, postgres.Config{URL: newer.url}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open on a newer schema: %v", err)
	}
}

// TestRejectedEventSparesItsBatch: events PostgreSQL refuses (a NUL byte
// in text, caught when the order is read or when the history entry is
// written) fail alone with order.ErrRejected while the writes sharing
// their transaction commit.
func TestRejectedEventSparesItsBatch(t *testing.T) {
	t.Parallel()
	s := newDatabase(t).open(t, postgres.Config{Writers: 1})
	ctx := context.Background()
	const good, bad = 64, 2
	var wg sync.WaitGroup
	errs := make([]error, good+bad)
	for i := range good + bad {
		wg.Go(func() {
			e := &order.Event{Platform: order.Shopee, ShopID: "1", OrderID: fmt.Sprint("G", i), Kind: order.KindStatus,
				PlatformStatus: "UNPAID", Status: order.StatusUnpaid, UpdateTime: time.Now(), Key: fmt.Sprint("g", i),
				ReceivedAt: time.Now(), Payload: []byte(`{}`), Seq: uint64(i + 1)}
			switch i {
			case good:
				e.OrderID = "bad\x00id" // refused by the read
			case good + 1:
				e.PushType = "bad\x00type" // refused by the write
			}
			_, errs[i] = s.Apply(ctx, e)
		})
	}
	wg.Wait()
	for i, err := range errs[:good] {
		if err != nil {
			t.Fatalf("good event %d: %v", i, err)
		}
	}
	for i, err := range errs[good:] {
		if !errors.Is(err, order.ErrRejected) {
			t.Fatalf("bad event %d: %v, want ErrRejected", i, err)
		}
	}
	p, err := s.List(ctx, order.Filter{Limit: 1000})
	if err != nil || len(p.Orders) != good {
		t.Fatalf("orders: %v, %d, want %d", err, len(p.Orders), good)
	}
	for _, o := range p.Orders {
		if evs, err := s.Events(ctx, o.Key()); err != nil || len(evs) != 1 || o.EventCount != 1 {
			t.Fatalf("order %s: %d events (%v), count %d", o.OrderID, len(evs), err, o.EventCount)
		}
	}
}

// TestLostConnectionsAreUnavailableThenRecover: when the server cuts every
// connection of a store, its calls fail with order.ErrUnavailable (never a
// silent success, never ErrRejected), and it recovers by itself.
func TestLostConnectionsAreUnavailableThenRecover(t *testing.T) {
	t.Parallel()
	db := newDatabase(t)
	s := db.open(t, postgres.Config{})
	ctx := context.Background()
	e := func(i int) *order.Event {
		return &order.Event{Platform: order.Lazada, ShopID: "7", OrderID: "L1", Kind: order.KindStatus,
			PlatformStatus: "pending", Status: order.StatusUnpaid, UpdateTime: time.Now(), Key: fmt.Sprint("l", i),
			ReceivedAt: time.Now(), Payload: []byte(`{}`), Seq: uint64(i)}
	}
	if _, err := s.Apply(ctx, e(1)); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, os.Getenv(envURL))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var cut int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
		db.schema).Scan(&cut); err != nil || cut == 0 {
		t.Fatalf("terminated %d connections: %v", cut, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	failures := 0
	for i := 2; ; i++ {
		_, err := s.Apply(ctx, e(i))
		if err == nil {
			break
		}
		failures++
		if !errors.Is(err, order.ErrUnavailable) {
			t.Fatalf("apply after the connections were cut: %v, want ErrUnavailable", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover: %v", err)
		}
	}
	if _, err := s.Get(ctx, order.Key{Platform: order.Lazada, ShopID: "7", OrderID: "L1"}); err != nil {
		// The read pool's connections were cut too: at most one failure,
		// then a new connection.
		if _, err := s.Get(ctx, order.Key{Platform: order.Lazada, ShopID: "7", OrderID: "L1"}); err != nil {
			t.Fatalf("get after recovery: %v", err)
		}
	}
	t.Logf("%d applies failed (ErrUnavailable) before the store reconnected", failures)
}

// TestUnreachableDatabase: Open against a port nobody listens on fails
// with order.ErrUnavailable.
func TestUnreachableDatabase(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, postgres.Config{URL: "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"})
	if !errors.Is(err, order.ErrUnavailable) {
		t.Fatalf("open on a closed port: %v, want ErrUnavailable", err)
	}
}
