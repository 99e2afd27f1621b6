-- The estimated AWS cost of each retraining run: what it consumed, in the units Personalize
-- bills, and the prices it was estimated with. One row per run; a rerun of the report replaces it.
CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.run_costs (
    dag_id                text             NOT NULL,
    run_id                text             NOT NULL,
    data_interval_start   timestamptz,
    data_interval_end     timestamptz,
    gb_ingested           double precision NOT NULL,
    training_hours        double precision NOT NULL,
    batch_recommendations bigint           NOT NULL,
    segment_users         bigint           NOT NULL,
    tps_hours             double precision NOT NULL,
    cost_lines            jsonb            NOT NULL,  -- USD per billed item
    total_usd             double precision NOT NULL,
    pricing               jsonb            NOT NULL,
    recorded_at           timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (dag_id, run_id)
);
