// Package sqlite is the embedded order store: SQLite through the pure-Go
// modernc.org/sqlite driver, in WAL mode.
//
// Writes from concurrent callers are coalesced into shared transactions by a
// single writer goroutine (group commit): one commit (one fsync with
// synchronous=FULL) covers the whole batch, and one failing write never
// undoes another (the batch is then run again with each write inside its
// own savepoint). Reads use a separate pool and never wait for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	_ "modernc.org/sqlite"

	"github.com/orderlane/orderlane/store/internal/batch" // registers the "sqlite" driver
)

// Config configures the store.
type Config struct {
	// Path is the database file. Required.
	Path string
	// Synchronous is SQLite's synchronous pragma: "FULL" makes every commit
	// durable against power loss, "NORMAL" only against a process crash.
	// Defaults to FULL.
	Synchronous string
	// MaxBatch caps how many concurrent writes share one transaction.
	// Defaults to 256.
	MaxBatch int
	// Linger is how long the writer may wait, under load (its previous
	// transaction held at least 4 writes), for about as many writes as
	// that transaction held to share the next one; it stops waiting when
	// none came for a fifth of Linger. Each commit rewrites every page it
	// touched and fsyncs, so fewer, larger ones cost less per write; the
	// price is at most Linger on a write's latency, under load only.
	// Defaults to 5ms; negative turns it off.
	Linger time.Duration
	// Readers is the size of the read pool. Defaults to 4.
	Readers int
	// BusyTimeout is how long a write waits for a lock another connection
	// holds before it fails with order.ErrUnavailable. Defaults to 10s.
	BusyTimeout time.Duration
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Synchronous == "" {
		c.Synchronous = "FULL"
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 256
	}
	if c.Linger == 0 {
		c.Linger = 5 * time.Millisecond
	}
	if c.Readers <= 0 {
		c.Readers = 4
	}
	if c.BusyTimeout <= 0 {
		c.BusyTimeout = 10 * time.Second
	}
	return c
}

// Validate names the first bad field.
func (c Config) Validate() error {
	if c.Path == "" {
		return errors.New("sqlite: Path is required")
	}
	switch c.Synchronous {
	case "FULL", "NORMAL", "EXTRA":
	default:
		return fmt.Errorf("sqlite: Synchronous %q: want FULL, NORMAL or EXTRA", c.Synchronous)
	}
	return nil
}

// Store implements order.Repository, order.DetailRepository and audit.Log
// on one SQLite file; Shops is the shop.Store on the same file.
type Store struct {
	w, r   *sql.DB
	writes *batch.Queue[writeFn]
	cfg    Config
	// stmts are prepared once on the single writer connection; a write
	// uses them through tx.Stmt, which reuses them on that connection.
	stmts statements
	// reads are the API's look-ups, prepared once on the read pool
	// (database/sql prepares each on a pooled connection the first time
	// it runs there, then reuses it).
	reads reads

	closeOnce sync.Once
}

// writeFn is one write, run inside its own savepoint of a shared
// transaction.
type writeFn func(*txn) error

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("sqlite: store closed")

// Open opens (creating if needed) and migrates the database.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dsn := func(readonly bool) string {
		q := url.Values{}
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", max(cfg.BusyTimeout.Milliseconds(), 1)))
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+cfg.Synchronous+")")
		q.Add("_pragma", "foreign_keys(1)")
		if readonly {
			q.Add("_pragma", "query_only(1)")
		} else {
			q.Set("_txlock", "immediate")
		}
		return "file:" + cfg.Path + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn(false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	stmts, err := prepare(ctx, w)
	if err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	r.SetMaxOpenConns(cfg.Readers)
	r.SetMaxIdleConns(cfg.Readers)
	rs, err := prepareReads(ctx, r)
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	s := &Store{w: w, r: r, cfg: cfg, stmts: stmts, reads: rs}
	// One writer: SQLite has one writer connection.
	s.writes = batch.New(cfg.MaxBatch, 1, cfg.Linger, ErrClosed, s.commit)
	return s, nil
}

// Close stops the writer after the writes already queued and closes the
// database. It is safe to call more than once.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.writes.Close()
		err = errors.Join(s.w.Close(), s.r.Close())
	})
	return err
}

// Ping reports whether both pools can reach the database.
func (s *Store) Ping(ctx context.Context) error {
	select {
	case <-s.writes.Closed():
		return ErrClosed
	default:
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// write runs fn inside a savepoint of a shared transaction and returns once
// that transaction has committed (or fn or the commit failed).
func (s *Store) write(ctx context.Context, fn writeFn) error {
	return s.writes.Submit(ctx, fn)
}

// commit runs a batch in one transaction. It first runs the writes one
// after the other with no savepoints (two statements fewer per write);
// only if one of them fails is that transaction rolled back and the batch
// run again with a savepoint around each write, so the others still
// commit.
func (s *Store) commit(ops []*batch.Op[writeFn]) {
	if s.runBatch(ops, false) {
		s.runBatch(ops, true)
	}
}

// runBatch runs ops in one transaction and reports each one's outcome,
// except when, not isolated, a write of a batch of several fails: it then
// rolls back, reports nothing and returns true (run it again isolated).
// Isolated, each write runs inside its own savepoint and a failing one is
// rolled back alone.
func (s *Store) runBatch(ops []*batch.Op[writeFn], isolated bool) (rerun bool) {
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		failAll(ops, fmt.Errorf("sqlite: begin: %w", err))
		return false
	}
	t := &txn{tx: tx, s: &s.stmts, ctx: context.Background()}
	errs := make([]error, len(ops))
	for i, op := range ops {
		if err := op.Ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if !isolated {
			if err := op.Item(t); err != nil {
				_ = tx.Rollback()
				if len(ops) > 1 {
					return true
				}
				op.Done(err)
				return false
			}
			continue
		}
		if _, err := t.stmt(s.stmts.savepoint).ExecContext(t.ctx); err != nil {
			errs[i] = fmt.Errorf("sqlite: savepoint: %w", err)
			continue
		}
		if err := op.Item(t); err != nil {
			errs[i] = err
			if _, rerr := t.stmt(s.stmts.rollbackTo).ExecContext(t.ctx); rerr != nil {
				// SQLite rolls the whole transaction back itself on some
				// errors (disk full, I/O, out of memory), savepoints
				// included: report the cause first, so that callers see
				// what kind of failure it was.
				_ = tx.Rollback()
				failAll(ops, fmt.Errorf("sqlite: rollback to savepoint after %w: %w", err, rerr))
				return false
			}
		}
		if _, err := t.stmt(s.stmts.release).ExecContext(t.ctx); err != nil {
			_ = tx.Rollback()
			failAll(ops, fmt.Errorf("sqlite: release savepoint: %w", err))
			return false
		}
	}
	if err := tx.Commit(); err != nil {
		failAll(ops, fmt.Errorf("sqlite: commit: %w", err))
		return false
	}
	for i, op := range ops {
		op.Done(errs[i])
	}
	return false
}

// failAll reports err to every write of a batch.
func failAll(ops []*batch.Op[writeFn], err error) {
	for _, op := range ops {
		op.Done(err)
	}
}

// statements are the writer's prepared statements.
type statements struct {
	savepoint, rollbackTo, release             *sql.Stmt
	loadOrder, upsertOrder, insertEvent, audit *sql.Stmt
	loadDetail, upsertDetail                   *sql.Stmt
	loadShop, upsertShop                       *sql.Stmt
}

func prepare(ctx context.Context, db *sql.DB) (statements, error) {
	var s statements
	err := prepareAll(ctx, db, []toPrepare{
		{&s.savepoint, "SAVEPOINT op"},
		{&s.rollbackTo, "ROLLBACK TO op"},
		{&s.release, "RELEASE op"},
		{&s.loadOrder, loadOrderSQL},
		{&s.upsertOrder, upsertOrderSQL},
		{&s.insertEvent, insertEventSQL},
		{&s.audit, auditSQL},
		{&s.loadDetail, loadDetailSQL},
		{&s.upsertDetail, upsertDetailSQL},
		{&s.loadShop, loadShopSQL},
		{&s.upsertShop, upsertShopSQL},
	})
	return s, err
}

// toPrepare is one statement to prepare and where to keep it.
type toPrepare struct {
	dst **sql.Stmt
	sql string
}

// prepareAll prepares each statement on db into its dst.
func prepareAll(ctx context.Context, db *sql.DB, ps []toPrepare) error {
	for _, p := range ps {
		st, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("sqlite: prepare %q: %w", p.sql, err)
		}
		*p.dst = st
	}
	return nil
}

// reads are the read pool's prepared statements.
type reads struct {
	getOrder, events *sql.Stmt
}

func prepareReads(ctx context.Context, db *sql.DB) (reads, error) {
	var r reads
	err := prepareAll(ctx, db, []toPrepare{
		{&r.getOrder, getOrderSQL},
		{&r.events, eventsSQL},
	})
	return r, err
}

// txn is the shared transaction one write runs in.
type txn struct {
	tx *sql.Tx
	s  *statements
	// ctx is not a caller's: a shared transaction must not be cut short by
	// one caller giving up (its write is then rolled back to its savepoint
	// or, if it completed, simply stays).
	ctx context.Context
}

// stmt binds a prepared statement to the transaction.
func (t *txn) stmt(st *sql.Stmt) *sql.Stmt { return t.tx.StmtContext(t.ctx, st) }

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
