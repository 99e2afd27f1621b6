-- What the recommendation API showed to whom under which experiment: written in batches by the
-- API (serving/exposures.py), read by the experiment report. Lives in the pipeline's cache schema.
CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.experiment_exposures (
    exposure_id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    experiment         text        NOT NULL,
    variant            text        NOT NULL,
    user_id            text        NOT NULL,
    recommendation_id  text        NOT NULL,
    source             text        NOT NULL,  -- what served it: personalized, popular, trending, campaign
    exposed_at         timestamptz NOT NULL
);

-- The report reads one experiment's exposures of a time window. The API writes them in time order,
-- so a block-range index on the time finds the window for a fraction of a b-tree's upkeep: a b-tree
-- on (experiment, user_id, exposed_at) cost each written exposure 5 us of server CPU more (9 in all),
-- a burst taken from the requests the server answers meanwhile.
DROP INDEX IF EXISTS {schema}.experiment_exposures_by_user;
CREATE INDEX IF NOT EXISTS experiment_exposures_by_time
    ON {schema}.experiment_exposures USING brin (exposed_at);

-- Exposures the API could not record (buffer full, database down), counted per minute.
CREATE TABLE IF NOT EXISTS {schema}.experiment_exposures_lost (
    experiment  text        NOT NULL,
    minute      timestamptz NOT NULL,
    lost        bigint      NOT NULL,
    PRIMARY KEY (experiment, minute)
);
