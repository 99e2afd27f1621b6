-- What the recommendation API showed to whom under which experiment: written in batches by the
-- API (serving/exposures.py), read by the experiment report. Lives in the pipeline's cache schema.
CREATE SCHEMA IF NOT EXISTS {schema};

-- One row per flush of the API and (experiment, variant, source): the exposures' users,
-- recommendation ids and times (microseconds since the epoch) as JSON arrays, in the order they
-- were recorded. A row per exposure cost PostgreSQL 3.9 us of CPU per exposure written and the
-- saturated API +14 % on p99; a batch row 0.7 us (bench/serving.py). Stored uncompressed
-- (EXTERNAL): compressing the arrays was most of a batch row's cost.
CREATE TABLE IF NOT EXISTS {schema}.experiment_exposure_batches (
    batch_id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    experiment         text        NOT NULL,
    variant            text        NOT NULL,
    source             text        NOT NULL,  -- what served them: personalized, popular, trending, campaign
    first_at           timestamptz NOT NULL,
    last_at            timestamptz NOT NULL,
    user_ids           json        NOT NULL,
    recommendation_ids json        NOT NULL,
    exposed_us         json        NOT NULL
);
ALTER TABLE {schema}.experiment_exposure_batches
    ALTER user_ids SET STORAGE EXTERNAL,
    ALTER recommendation_ids SET STORAGE EXTERNAL,
    ALTER exposed_us SET STORAGE EXTERNAL;

-- The report reads one experiment's time window; the API writes batches in time order.
CREATE INDEX IF NOT EXISTS experiment_exposure_batches_by_time
    ON {schema}.experiment_exposure_batches USING brin (first_at, last_at);

-- An earlier version kept a row per exposure in a table of this name: its rows move into batches
-- (one per experiment, variant, source and minute), then the view takes the name.
DO $$
BEGIN
    IF to_regclass('{schema}.experiment_exposures') IS NOT NULL
       AND (SELECT relkind FROM pg_class WHERE oid = to_regclass('{schema}.experiment_exposures')) = 'r' THEN
        INSERT INTO {schema}.experiment_exposure_batches
            (experiment, variant, source, first_at, last_at, user_ids, recommendation_ids, exposed_us)
        SELECT experiment, variant, source, min(exposed_at), max(exposed_at),
               json_agg(user_id ORDER BY exposure_id),
               json_agg(recommendation_id ORDER BY exposure_id),
               json_agg((extract(epoch FROM exposed_at) * 1000000)::bigint ORDER BY exposure_id)
        FROM {schema}.experiment_exposures
        GROUP BY experiment, variant, source, date_trunc('minute', exposed_at)
        ORDER BY min(exposure_id);
        DROP TABLE {schema}.experiment_exposures;
    END IF;
END
$$;

-- A row per exposure, as the report and anyone querying them read it; (batch_id, position) is
-- the order they were written in. batch_first_at / batch_last_at let a time window skip batches.
CREATE OR REPLACE VIEW {schema}.experiment_exposures AS
SELECT b.batch_id,
       e.position,
       b.experiment,
       b.variant,
       e.user_id,
       e.recommendation_id,
       b.source,
       to_timestamp(0) + e.exposed_us::bigint * interval '1 microsecond' AS exposed_at,
       b.first_at AS batch_first_at,
       b.last_at AS batch_last_at
FROM {schema}.experiment_exposure_batches AS b,
     ROWS FROM (json_array_elements_text(b.user_ids),
                json_array_elements_text(b.recommendation_ids),
                json_array_elements_text(b.exposed_us))
         WITH ORDINALITY AS e (user_id, recommendation_id, exposed_us, position);

-- Exposures the API could not record (buffer full, database down), counted per minute.
CREATE TABLE IF NOT EXISTS {schema}.experiment_exposures_lost (
    experiment  text        NOT NULL,
    minute      timestamptz NOT NULL,
    lost        bigint      NOT NULL,
    PRIMARY KEY (experiment, minute)
);
