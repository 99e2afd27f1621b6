-- The cache schema and the record of every load into it (lineage and snapshot bookkeeping).
-- Loads of several caches start in parallel: one at a time runs this (the whole text is one
-- transaction), so the IF NOT EXISTS and constraint statements below never race each other.
SELECT pg_advisory_xact_lock(hashtext('personalize_pipeline.cache_setup'));

CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.cache_loads (
    load_id              bigserial PRIMARY KEY,
    cache_name           text        NOT NULL,
    snapshot_table       text        NOT NULL,
    status               text        NOT NULL,
    dag_id               text,
    run_id               text,
    source_uri           text,
    batch_job_arn        text,
    solution_version_arn text,
    row_count            bigint,
    key_count            bigint,
    error_count          bigint,
    started_at           timestamptz NOT NULL DEFAULT now(),
    finished_at          timestamptz
);

-- Kept outside CREATE TABLE so that databases made by an older version get the current list.
ALTER TABLE {schema}.cache_loads DROP CONSTRAINT IF EXISTS cache_loads_status_check;
ALTER TABLE {schema}.cache_loads ADD CONSTRAINT cache_loads_status_check
    CHECK (status IN ('loading', 'live', 'previous', 'failed', 'dropped', 'rolled_back'));

-- Columns added after the first release: databases made by an older version get them here.
ALTER TABLE {schema}.cache_loads
    ADD COLUMN IF NOT EXISTS kind                text,
    ADD COLUMN IF NOT EXISTS data_interval_start timestamptz,
    ADD COLUMN IF NOT EXISTS data_interval_end   timestamptz,
    ADD COLUMN IF NOT EXISTS metrics             jsonb,
    ADD COLUMN IF NOT EXISTS input_count         bigint,
    ADD COLUMN IF NOT EXISTS failure_reason      text;

CREATE INDEX IF NOT EXISTS cache_loads_by_cache ON {schema}.cache_loads (cache_name, load_id DESC);
