-- Coverage of each cache load, measured after the load: the next load is compared with it.
CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.cache_coverage (
    load_id            bigint      PRIMARY KEY,
    cache_name         text        NOT NULL,
    active_customers   bigint,     -- customers with history in the window (per-user caches only)
    covered_customers  bigint,     -- of those, how many the cache has rows for
    catalogue          bigint      NOT NULL,
    covered_items      bigint      NOT NULL,  -- catalogue products the cache holds
    measured_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS cache_coverage_by_cache ON {schema}.cache_coverage (cache_name, load_id DESC)
