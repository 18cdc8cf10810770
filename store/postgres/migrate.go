package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The schema's versioned migrations: migrations/NNNN_name.sql, applied in
// version order, each in its own transaction, and recorded in the table
// schema_migrations. Append only: never edit a migration that has shipped.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded migration file.
type migration struct {
	version int
	name    string // file name without .sql, "0001_init"
	sql     string
}

// advisoryClass is the first key of the advisory lock that serialises
// migrations; the second is a hash of the schema, so databases and schemas
// migrate independently.
const advisoryClass = 0x6f6c // "ol"

func loadMigrations() ([]migration, error) {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".sql")
		prefix, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("postgres: migration file %s: want NNNN_name.sql", f)
		}
		b, err := migrationFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("postgres: migration %s: versions must run 1, 2, 3, ... without gaps", m.name)
		}
	}
	return out, nil
}

// SchemaVersion is the schema version this binary's migrations bring a
// database to.
func SchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// Migrate brings the database at databaseURL (its first schema on the
// search_path) to this binary's schema version and returns the names of the
// migrations it applied (none when the schema is current). It is safe to
// run from many processes at once: a session advisory lock serialises them,
// and each migration commits together with its schema_migrations row. It
// refuses a database whose schema is newer than this binary knows.
func Migrate(ctx context.Context, databaseURL string) ([]string, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: database URL: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", classify(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return migrate(ctx, conn)
}

func migrate(ctx context.Context, conn *pgx.Conn) (applied []string, err error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	const lockKey = `$1::int4, hashtext(coalesce(current_schema(), ''))`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`, advisoryClass); err != nil {
		return nil, fmt.Errorf("postgres: migrate: lock: %w", classify(err))
	}
	defer func() {
		// A failed unlock (connection gone) releases the lock anyway: a
		// session lock ends with its session.
		_, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lockKey+`)`, advisoryClass)
		if err == nil && uerr != nil {
			err = fmt.Errorf("postgres: migrate: unlock: %w", classify(uerr))
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", classify(err))
	}
	done := map[int]string{}
	rows, err := conn.Query(ctx, `SELECT version, name FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate: read schema_migrations: %w", classify(err))
	}
	for rows.Next() {
		var (
			v    int
			name string
		)
		if err := rows.Scan(&v, &name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgres: migrate: read schema_migrations: %w", err)
		}
		done[v] = name
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: migrate: read schema_migrations: %w", classify(err))
	}
	for v, name := range done {
		if v > len(ms) {
			return nil, fmt.Errorf("postgres: database schema has migration %d (%s), newer than this binary's %d", v, name, len(ms))
		}
		if ms[v-1].name != name {
			return nil, fmt.Errorf("postgres: database migration %d is %q, this binary's is %q", v, name, ms[v-1].name)
		}
	}
	for _, m := range ms {
		if _, ok := done[m.version]; ok {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// Simple protocol: a migration file may hold several statements.
			if _, err := tx.Exec(ctx, m.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("postgres: migration %s: %w", m.name, classify(err))
		}
		applied = append(applied, m.name)
	}
	return applied, nil
}
