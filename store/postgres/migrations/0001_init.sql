-- Orders, their history and the audit log.
-- Identity and key columns use the "C" collation: byte order, as in the
-- SQLite store, cheap comparisons, and list cursors that do not depend on
-- the database's locale.
CREATE TABLE orders (
	platform        text COLLATE "C" NOT NULL,
	shop_id         text COLLATE "C" NOT NULL,
	order_id        text COLLATE "C" NOT NULL,
	status          text        NOT NULL,
	platform_status text        NOT NULL,
	platform_update timestamptz,          -- NULL: no status time yet
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL,
	last_seq        bigint      NOT NULL,
	event_count     integer     NOT NULL,
	PRIMARY KEY (platform, shop_id, order_id)
);
CREATE INDEX orders_by_update ON orders (updated_at, platform, shop_id, order_id);

CREATE TABLE order_events (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	platform        text COLLATE "C" NOT NULL,
	shop_id         text COLLATE "C" NOT NULL,
	order_id        text COLLATE "C" NOT NULL,
	seq             bigint      NOT NULL,
	key             text COLLATE "C" NOT NULL UNIQUE,
	kind            text        NOT NULL,
	push_type       text        NOT NULL,
	platform_status text        NOT NULL,
	status          text        NOT NULL,
	update_time     timestamptz,          -- NULL: the push carried none
	received_at     timestamptz NOT NULL,
	applied_at      timestamptz NOT NULL,
	status_changed  boolean     NOT NULL,
	stale           boolean     NOT NULL,
	payload         bytea       NOT NULL  -- the push body byte for byte, as signed
);
CREATE INDEX order_events_by_order ON order_events (platform, shop_id, order_id, id);

-- Idempotent by (seq, key): a redelivery repeats both; a topic recreated
-- from scratch reuses sequences with new keys.
CREATE TABLE audit_log (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	seq         bigint      NOT NULL,
	platform    text        NOT NULL,
	shop_id     text        NOT NULL,
	order_id    text        NOT NULL,
	kind        text        NOT NULL,
	push_type   text        NOT NULL,
	key         text        NOT NULL,
	received_at timestamptz NOT NULL,
	recorded_at timestamptz NOT NULL,
	payload     bytea       NOT NULL,
	UNIQUE (seq, key)
);
