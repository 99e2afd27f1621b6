-- The report's copy of one experiment's exposed users and shown recommendations, on the store's
-- connection, so the counts join them with the store's tables even when the exposures live in
-- another database. Temporary: gone with the connection; emptied before each experiment.
CREATE TEMP TABLE IF NOT EXISTS experiment_exposed (
    user_id        text        PRIMARY KEY,
    variant        text        NOT NULL,  -- of the first exposure
    first_exposed  timestamptz NOT NULL,
    exposures      bigint      NOT NULL,  -- under any variant
    crossed        boolean     NOT NULL   -- also shown another variant
);

CREATE TEMP TABLE IF NOT EXISTS experiment_shown (
    user_id            text NOT NULL,
    recommendation_id  text NOT NULL,
    PRIMARY KEY (user_id, recommendation_id)
);

TRUNCATE experiment_exposed, experiment_shown
