-- Every candidate solution version's offline metrics and the quality gate's decision on it.
-- One row per version: a rerun of the gate for the same version updates its row.
CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.solution_metrics (
    solution_version_arn text             PRIMARY KEY,
    solution             text             NOT NULL,
    training_mode        text             NOT NULL,
    metrics              jsonb            NOT NULL,
    gate_metric          text             NOT NULL,
    candidate_value      double precision,
    live_value           double precision,
    compared_with        text,
    decision             text             NOT NULL
                         CHECK (decision IN ('promoted', 'rejected', 'skipped_gate')),
    reasons              text[]           NOT NULL,
    rules                jsonb            NOT NULL,
    dag_id               text,
    run_id               text,
    data_interval_start  timestamptz,
    data_interval_end    timestamptz,
    first_decided_at     timestamptz      NOT NULL DEFAULT now(),
    decided_at           timestamptz      NOT NULL DEFAULT clock_timestamp(),
    -- Taken afresh at every decision (also on a rerun): orders decisions even within one clock tick.
    decision_seq         bigserial        NOT NULL
);

CREATE INDEX IF NOT EXISTS solution_metrics_by_solution
    ON {schema}.solution_metrics (solution, decision_seq DESC);

-- The popularity-count baseline each candidate was compared with (null: none, e.g. not per-user).
ALTER TABLE {schema}.solution_metrics ADD COLUMN IF NOT EXISTS baseline_value double precision;
ALTER TABLE {schema}.solution_metrics ADD COLUMN IF NOT EXISTS baseline_version_arn text;

-- A decision added since the first release: a candidate waiting for a human's answer. The
-- constraint is replaced only when an older one lacks it, so reruns take no exclusive lock.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint
         WHERE conrelid = '{schema}.solution_metrics'::regclass
           AND conname = 'solution_metrics_decision_check'
           AND pg_get_constraintdef(oid) LIKE '%awaiting_approval%'
    ) THEN
        ALTER TABLE {schema}.solution_metrics DROP CONSTRAINT IF EXISTS solution_metrics_decision_check;
        ALTER TABLE {schema}.solution_metrics ADD CONSTRAINT solution_metrics_decision_check
            CHECK (decision IN ('promoted', 'rejected', 'skipped_gate', 'awaiting_approval'));
    END IF;
END
$$;

-- Each run's popularity-count baseline version and its offline metrics; candidates' rows point at
-- it with baseline_version_arn.
CREATE TABLE IF NOT EXISTS {schema}.baseline_versions (
    solution_version_arn text        PRIMARY KEY,
    recipe               text        NOT NULL,
    metrics              jsonb       NOT NULL,
    dag_id               text,
    run_id               text,
    data_interval_start  timestamptz,
    data_interval_end    timestamptz,
    recorded_at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
