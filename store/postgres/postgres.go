// Package postgres is the order store on PostgreSQL (through pgx), for
// deployments that run several orderlane instances or want the orders in a
// database their operators already run.
//
// It gives the same guarantees as store/sqlite (both pass store/storetest):
// an event and its order row change in one transaction, a key applied once
// is never applied again, order.(*Order).Apply decides the status. On top,
// it is safe for several processes on one database: an apply locks its
// order's row (SELECT ... FOR UPDATE), so two workers that briefly hold the
// same order during a hand-over still fold its events one at a time.
//
// Writes from concurrent callers are coalesced (group commit): Writers
// goroutines each take whatever writes are queued, up to MaxBatch, and run
// them in one transaction, each in its own savepoint, so one failing write
// never undoes another and one commit (one WAL flush) covers the batch. The
// statements of one write are pipelined (pgx.Batch): two round trips per
// apply plus one BEGIN and one COMMIT per batch. Reads use their own pool.
//
// Times are kept to the microsecond, PostgreSQL's resolution: the store
// truncates an event's times before applying the status rule, so the rule
// compares exactly what is stored. Zero times are stored as NULL.
//
// The schema is migrated at Open (unless Config.NoMigrate) or by Migrate
// (the `orderlane migrate` command); see migrate.go.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/orderlane/orderlane/store/internal/batch"
)

// Config configures the store.
type Config struct {
	// URL is the database, as a PostgreSQL URL or key=value string
	// ("postgres://user@host:5432/db?sslmode=verify-full"). Tables live in
	// the first schema of its search_path (a search_path parameter in the
	// URL selects another). Required.
	URL string
	// MaxBatch caps how many concurrent writes share one transaction; 1
	// gives one transaction per write. Defaults to 256.
	MaxBatch int
	// Writers is how many batch transactions run at once (each on its own
	// connection). Defaults to 2.
	Writers int
	// Readers is the size of the read pool. Defaults to 4.
	Readers int
	// TxTimeout bounds one batch transaction, commit included; its writes
	// then fail with order.ErrUnavailable. Defaults to 15s.
	TxTimeout time.Duration
	// NoMigrate skips migrating the schema at Open (run `orderlane
	// migrate` instead). Open then still checks the schema version.
	// Defaults to false: Open migrates.
	NoMigrate bool
	// Logger receives the migrations applied at Open. Defaults to
	// slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.MaxBatch <= 0 {
		c.MaxBatch = 256
	}
	if c.Writers <= 0 {
		c.Writers = 2
	}
	if c.Readers <= 0 {
		c.Readers = 4
	}
	if c.TxTimeout <= 0 {
		c.TxTimeout = 15 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate names the first bad field.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("postgres: URL is required")
	}
	if _, err := pgxpool.ParseConfig(c.URL); err != nil {
		return fmt.Errorf("postgres: URL: %w", err)
	}
	return nil
}

// Store implements order.Repository, order.DetailRepository and audit.Log
// on one PostgreSQL schema; Shops is the shop.Store on the same schema.
// Several Stores (processes) may share the schema.
type Store struct {
	cfg    Config
	w, r   *pgxpool.Pool
	writes *batch.Queue[writeOp]

	closeOnce sync.Once
}

type writeOp struct {
	// lock names what the write locks ("o" + order identity, "a" + audit
	// key). A batch runs its writes sorted by it, so every transaction
	// takes its locks in one global order and two batches (of this
	// process or another) never deadlock.
	lock string
	step step
}

// step is one write in two phases, so that a batch can pipeline them: the
// reads of a write go out together with the writes of the one before it.
// Each phase's statements run inside the write's savepoint.
type step interface {
	// read queues the write's reads (none is fine).
	read(b *pgx.Batch)
	// scan takes the results of read.
	scan(br pgx.BatchResults) error
	// write queues the writes; it runs after scan succeeded.
	write(b *pgx.Batch)
	// done takes the results of write.
	done(br pgx.BatchResults) error
}

// Open connects, migrates (see Config.NoMigrate) and starts the writers.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pool := func(n int) (*pgxpool.Pool, error) {
		pc, err := pgxpool.ParseConfig(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("postgres: URL: %w", err)
		}
		pc.MaxConns, pc.MinConns = int32(n), 0 // #nosec G115 -- small configured counts
		p, err := pgxpool.NewWithConfig(ctx, pc)
		if err != nil {
			return nil, fmt.Errorf("postgres: connect: %w", classify(err))
		}
		return p, nil
	}
	w, err := pool(cfg.Writers + 1) // +1: migrations at Open
	if err != nil {
		return nil, err
	}
	if err := migrateOrCheck(ctx, w, cfg); err != nil {
		w.Close()
		return nil, err
	}
	r, err := pool(cfg.Readers)
	if err != nil {
		w.Close()
		return nil, err
	}
	s := &Store{cfg: cfg, w: w, r: r}
	s.writes = batch.New(cfg.MaxBatch, cfg.Writers, 0, ErrClosed, s.commit)
	return s, nil
}

func migrateOrCheck(ctx context.Context, p *pgxpool.Pool, cfg Config) error {
	c, err := p.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", classify(err))
	}
	defer c.Release()
	if !cfg.NoMigrate {
		applied, err := migrate(ctx, c.Conn())
		for _, m := range applied {
			cfg.Logger.Info("postgres migration applied", "migration", m)
		}
		return err
	}
	var v int
	err = c.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return fmt.Errorf("postgres: read schema version (run `orderlane migrate` first): %w", classify(err))
	}
	if want := SchemaVersion(); v != want {
		return fmt.Errorf("postgres: database schema version %d, this binary needs %d: run `orderlane migrate`", v, want)
	}
	return nil
}

// Close stops the writers after the writes already queued and closes the
// pools. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.writes.Close()
		s.w.Close()
		s.r.Close()
	})
	return nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	select {
	case <-s.writes.Closed():
		return ErrClosed
	default:
	}
	if err := s.r.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", classify(err))
	}
	return nil
}

// write runs st inside a savepoint of a shared transaction and returns
// once that transaction has committed (or st or the commit failed). lock
// is the write's lock order key (see writeOp).
func (s *Store) write(ctx context.Context, lock string, st step) error {
	return s.writes.Submit(ctx, writeOp{lock: lock, step: st})
}

// Savepoint statements: each write runs between savepoint and release, and
// is rolled back to it on failure.
const (
	savepoint  = "SAVEPOINT op"
	rollbackTo = "ROLLBACK TO SAVEPOINT op"
	release    = "RELEASE SAVEPOINT op"
)

// maxOpTries bounds how often one write is run within its batch when it
// loses a race to another transaction (see isRetryable).
const maxOpTries = 3

// commit runs a batch in one transaction, pipelined: round trip k carries
// the writes of op k-1 (and its release) and the savepoint and reads of op
// k, so a batch of n writes costs n+2 round trips (BEGIN rides with the
// first, COMMIT is its own). When a statement fails, the server skips the
// rest of that round trip; the failed op is rolled back to its savepoint
// and either run again (a lost race) or answered with its error, and the
// pipeline goes on with the next op.
func (s *Store) commit(wb []*batch.Op[writeOp]) {
	// Not a caller's context: one caller giving up must not cut the shared
	// transaction short (its write is rolled back to its savepoint or, if
	// it completed, simply stays).
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.TxTimeout)
	defer cancel()
	errs := make([]error, len(wb))
	fail := func(err error) {
		err = classify(err)
		for i, op := range wb {
			if errs[i] == nil {
				errs[i] = err
			}
			op.Done(errs[i])
		}
	}
	// The callers are concurrent: their writes have no order among
	// themselves, so the batch may run them in lock order.
	slices.SortStableFunc(wb, func(a, b *batch.Op[writeOp]) int { return strings.Compare(a.Item.lock, b.Item.lock) })
	var ops []int // indexes of the writes still wanted
	for i, op := range wb {
		if err := op.Ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		ops = append(ops, i)
	}
	if len(ops) == 0 {
		fail(nil)
		return
	}
	conn, err := s.w.Acquire(ctx)
	if err != nil {
		fail(fmt.Errorf("postgres: connect: %w", err))
		return
	}
	// A connection released inside a transaction (any failure below) is
	// closed by the pool, which rolls the transaction back.
	defer conn.Release()

	tries := make([]int, len(wb))
	began := false
	prev, next := -1, 0 // prev: index into ops awaiting its writes; next: the next op to start
	for prev >= 0 || next < len(ops) {
		b := &pgx.Batch{}
		if !began {
			b.Queue("BEGIN")
		}
		if prev >= 0 {
			wb[ops[prev]].Item.step.write(b)
			b.Queue(release)
		}
		starting := next < len(ops)
		if starting {
			b.Queue(savepoint)
			wb[ops[next]].Item.step.read(b)
		}
		br := conn.SendBatch(ctx, b)
		if !began {
			if _, err := br.Exec(); err != nil {
				_ = br.Close()
				fail(fmt.Errorf("postgres: begin: %w", err))
				return
			}
			began = true
		}
		var prevErr, savepointErr, readErr error
		if prev >= 0 {
			prevErr = wb[ops[prev]].Item.step.done(br)
			if prevErr == nil {
				if _, err := br.Exec(); err != nil {
					prevErr = fmt.Errorf("release savepoint: %w", err)
				}
			}
		}
		if starting && prevErr == nil {
			if _, err := br.Exec(); err != nil {
				savepointErr = err
			} else {
				readErr = wb[ops[next]].Item.step.scan(br)
			}
		}
		closeErr := br.Close()
		switch {
		case prevErr != nil && !isServerError(prevErr):
			// Not the server's refusal (it may have run everything, the
			// release included): the op cannot be undone alone.
			fail(fmt.Errorf("postgres: %w", prevErr))
			return
		case prevErr != nil:
			// The server refused a statement and skipped the rest of the
			// round trip: next has not started.
			if err := s.rollback(ctx, conn); err != nil {
				fail(fmt.Errorf("postgres: rollback to savepoint after %w: %w", prevErr, err))
				return
			}
			i := ops[prev]
			tries[i]++
			if isRetryable(prevErr) && tries[i] < maxOpTries {
				next = prev // run it again from its reads
			} else {
				errs[i] = classify(prevErr)
			}
			prev = -1
		case savepointErr != nil:
			fail(fmt.Errorf("postgres: savepoint: %w", savepointErr))
			return
		case readErr != nil:
			if err := s.rollback(ctx, conn); err != nil {
				fail(fmt.Errorf("postgres: rollback to savepoint after %w: %w", readErr, err))
				return
			}
			i := ops[next]
			tries[i]++
			if !isRetryable(readErr) || tries[i] >= maxOpTries {
				errs[i] = classify(readErr)
				next++
			}
			prev = -1
		case closeErr != nil:
			fail(fmt.Errorf("postgres: %w", closeErr))
			return
		default:
			prev = -1
			if starting {
				prev, next = next, next+1
			}
		}
	}
	tag, err := conn.Exec(ctx, "COMMIT")
	if err == nil && tag.String() != "COMMIT" {
		err = fmt.Errorf("transaction rolled back (%s)", tag)
	}
	if err != nil {
		fail(fmt.Errorf("postgres: commit: %w", err))
		return
	}
	for i, op := range wb {
		op.Done(errs[i])
	}
}

// rollback undoes the current write to its savepoint and drops the
// savepoint, leaving the transaction usable.
func (s *Store) rollback(ctx context.Context, conn *pgxpool.Conn) error {
	// Simple protocol (no arguments): the extended one would first prepare
	// the statements, which an aborted transaction refuses.
	_, err := conn.Exec(ctx, rollbackTo+"; "+release)
	return err
}
