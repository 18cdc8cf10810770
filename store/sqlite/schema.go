package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order; PRAGMA user_version records how many ran.
// Append only: never edit a migration that has shipped.
var migrations = []string{
	`CREATE TABLE orders (
		platform        TEXT    NOT NULL,
		shop_id         TEXT    NOT NULL,
		order_id        TEXT    NOT NULL,
		status          TEXT    NOT NULL,
		platform_status TEXT    NOT NULL,
		platform_update INTEGER NOT NULL,
		created_at      INTEGER NOT NULL,
		updated_at      INTEGER NOT NULL,
		last_seq        INTEGER NOT NULL,
		event_count     INTEGER NOT NULL,
		PRIMARY KEY (platform, shop_id, order_id)
	) WITHOUT ROWID;
	CREATE INDEX orders_by_update ON orders (updated_at, platform, shop_id, order_id);
	CREATE TABLE order_events (
		id              INTEGER PRIMARY KEY,
		platform        TEXT    NOT NULL,
		shop_id         TEXT    NOT NULL,
		order_id        TEXT    NOT NULL,
		seq             INTEGER NOT NULL,
		key             TEXT    NOT NULL UNIQUE,
		kind            TEXT    NOT NULL,
		push_type       TEXT    NOT NULL,
		platform_status TEXT    NOT NULL,
		status          TEXT    NOT NULL,
		update_time     INTEGER NOT NULL,
		received_at     INTEGER NOT NULL,
		applied_at      INTEGER NOT NULL,
		status_changed  INTEGER NOT NULL,
		stale           INTEGER NOT NULL,
		payload         BLOB    NOT NULL
	);
	CREATE INDEX order_events_by_order ON order_events (platform, shop_id, order_id, id);
	CREATE TABLE audit_log (
		seq         INTEGER PRIMARY KEY,
		platform    TEXT    NOT NULL,
		shop_id     TEXT    NOT NULL,
		order_id    TEXT    NOT NULL,
		kind        TEXT    NOT NULL,
		push_type   TEXT    NOT NULL,
		key         TEXT    NOT NULL,
		received_at INTEGER NOT NULL,
		recorded_at INTEGER NOT NULL,
		payload     BLOB    NOT NULL
	);`,
	// The audit log was keyed by topic sequence alone; a topic recreated
	// from scratch restarts its sequences, and new events would have been
	// dropped as redeliveries. A redelivery is the same sequence AND key.
	`CREATE TABLE audit_log_v2 (
		id          INTEGER PRIMARY KEY,
		seq         INTEGER NOT NULL,
		platform    TEXT    NOT NULL,
		shop_id     TEXT    NOT NULL,
		order_id    TEXT    NOT NULL,
		kind        TEXT    NOT NULL,
		push_type   TEXT    NOT NULL,
		key         TEXT    NOT NULL,
		received_at INTEGER NOT NULL,
		recorded_at INTEGER NOT NULL,
		payload     BLOB    NOT NULL,
		UNIQUE (seq, key)
	);
	INSERT INTO audit_log_v2 (seq, platform, shop_id, order_id, kind, push_type, key, received_at, recorded_at, payload)
		SELECT seq, platform, shop_id, order_id, kind, push_type, key, received_at, recorded_at, payload FROM audit_log ORDER BY seq;
	DROP TABLE audit_log;
	ALTER TABLE audit_log_v2 RENAME TO audit_log;`,
	// Order details from the marketplace APIs (order.Detail as JSON) in a
	// table of their own: Apply rewrites an order's row on every event and
	// List scans the rows, neither should carry kilobytes of detail. And
	// the connected shops, their tokens sealed (shop.Sealer).
	`CREATE TABLE order_details (
		platform TEXT NOT NULL,
		shop_id  TEXT NOT NULL,
		order_id TEXT NOT NULL,
		detail   TEXT NOT NULL,
		PRIMARY KEY (platform, shop_id, order_id)
	);
	CREATE TABLE shops (
		platform         TEXT    NOT NULL,
		shop_id          TEXT    NOT NULL,
		cipher           TEXT    NOT NULL,
		region           TEXT    NOT NULL,
		state            TEXT    NOT NULL,
		connected_at     INTEGER NOT NULL,
		updated_at       INTEGER NOT NULL,
		reconciled_until INTEGER NOT NULL,
		last_error       TEXT    NOT NULL,
		token_sealed     BLOB    NOT NULL,
		PRIMARY KEY (platform, shop_id)
	) WITHOUT ROWID;`,
}

func migrate(ctx context.Context, db *sql.DB) error {
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("sqlite: read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("sqlite: database schema version %d is newer than this binary's %d", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("sqlite: migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("sqlite: migration %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlite: migration %d: %w", i+1, err)
		}
	}
	return nil
}
