-- The order's detail from the marketplace API (order.Detail as JSON);
-- NULL until fetched. A large value lives out of line (TOAST), and an
-- update that leaves it alone (every Apply) does not copy it.
ALTER TABLE orders ADD COLUMN detail jsonb;

-- Connected shops. token_sealed is the shop's API token encrypted with
-- the operator's key (shop.Sealer: AES-256-GCM bound to platform and
-- shop_id); nothing here is a secret without that key.
CREATE TABLE shops (
	platform         text COLLATE "C" NOT NULL,
	shop_id          text COLLATE "C" NOT NULL,
	cipher           text        NOT NULL,
	region           text        NOT NULL,
	state            text        NOT NULL,
	connected_at     timestamptz,          -- NULL: zero
	updated_at       timestamptz NOT NULL,
	reconciled_until timestamptz,          -- NULL: never reconciled
	last_error       text        NOT NULL,
	token_sealed     bytea       NOT NULL,
	PRIMARY KEY (platform, shop_id)
);
