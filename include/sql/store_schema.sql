-- Source tables of the online store that the pipelines extract from.
-- Idempotent: safe to run on every start-up of the demo and tests.

CREATE SCHEMA IF NOT EXISTS store;

CREATE TABLE IF NOT EXISTS store.customers (
    customer_id text PRIMARY KEY,
    created_at  timestamptz NOT NULL,
    country     text NOT NULL,
    age_band    text NOT NULL
);

CREATE TABLE IF NOT EXISTS store.products (
    product_id text PRIMARY KEY,
    name       text NOT NULL,
    category   text NOT NULL,
    price      numeric(10, 2) NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS store.orders (
    order_id    text PRIMARY KEY,
    customer_id text NOT NULL REFERENCES store.customers,
    ordered_at  timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS store.order_items (
    order_id   text NOT NULL REFERENCES store.orders,
    line_no    int NOT NULL,
    product_id text NOT NULL REFERENCES store.products,
    quantity   int NOT NULL,
    unit_price numeric(10, 2) NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE IF NOT EXISTS store.events (
    event_id    bigint PRIMARY KEY,
    customer_id text NOT NULL REFERENCES store.customers,
    product_id  text NOT NULL REFERENCES store.products,
    event_type  text NOT NULL CHECK (event_type IN ('view', 'add_to_cart')),
    occurred_at timestamptz NOT NULL
);

-- Extraction reads one interval at a time.
CREATE INDEX IF NOT EXISTS events_occurred_at_idx ON store.events (occurred_at);
CREATE INDEX IF NOT EXISTS orders_ordered_at_idx ON store.orders (ordered_at);

-- Events and orders posted through the recommendation API (serving/): the client's event id makes
-- a retried post a no-op, and the recommendation it came from lets experiments attribute it.
ALTER TABLE store.events ADD COLUMN IF NOT EXISTS client_event_id text UNIQUE;
ALTER TABLE store.events ADD COLUMN IF NOT EXISTS session_id text;
ALTER TABLE store.events ADD COLUMN IF NOT EXISTS recommendation_id text;
ALTER TABLE store.orders ADD COLUMN IF NOT EXISTS client_event_id text UNIQUE;
ALTER TABLE store.orders ADD COLUMN IF NOT EXISTS session_id text;
ALTER TABLE store.orders ADD COLUMN IF NOT EXISTS recommendation_id text;

-- Ingestion order for event sync (include/sql/event_sync/new_interactions.sql): the id of the
-- transaction that inserted the row. Unlike a sequence value it tells, through the snapshot's
-- xmin, when every transaction that could still add a lower value has ended. Existing rows get
-- the migrating transaction's id.
ALTER TABLE store.events ADD COLUMN IF NOT EXISTS ingest_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE store.order_items ADD COLUMN IF NOT EXISTS ingest_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX IF NOT EXISTS events_ingest_xid_idx ON store.events (ingest_xid);
CREATE INDEX IF NOT EXISTS order_items_ingest_xid_idx ON store.order_items (ingest_xid);
