-- The experiment report's results: one row per experiment, day, metric and variant, cumulative from
-- the experiment's start to the day's end (or the experiment's end). Written by the
-- <pipeline>_experiment_report DAG (a rerun of a day replaces its rows), read by the UI.
CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.experiment_results (
    experiment    text             NOT NULL,
    day           date             NOT NULL,
    metric        text             NOT NULL,  -- 'primary' or a guardrail's name
    variant       text             NOT NULL,
    users         bigint           NOT NULL,  -- users whose first exposure was to this variant
    exposures     bigint           NOT NULL,
    conversions   bigint           NOT NULL,  -- exposed users with the metric's event after their first exposure
    crossovers    bigint           NOT NULL DEFAULT 0,  -- of the users, those also shown another variant later
    rate          double precision,           -- conversions / users
    ci_low        double precision,           -- Wilson interval of the rate
    ci_high       double precision,
    lift          double precision,           -- rate / control's rate - 1 (NULL for the control)
    lift_ci_low   double precision,
    lift_ci_high  double precision,
    p_value       double precision,           -- two-proportion z test against the control
    p_adjusted    double precision,           -- Holm-corrected across the variants
    srm_p         double precision,           -- sample-ratio mismatch chi-square, same for every row of a day
    verdict       text             NOT NULL,
    dag_id        text,
    run_id        text,
    computed_at   timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (experiment, day, metric, variant)
);

-- Tables made before crossovers were counted.
ALTER TABLE {schema}.experiment_results ADD COLUMN IF NOT EXISTS crossovers bigint NOT NULL DEFAULT 0
