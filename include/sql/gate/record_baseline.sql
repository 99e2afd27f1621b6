-- The run's popularity-count version and its metrics (a rerun of the run records it again).
INSERT INTO {schema}.baseline_versions
    (solution_version_arn, recipe, metrics, dag_id, run_id, data_interval_start, data_interval_end)
VALUES (%(solution_version_arn)s, %(recipe)s, %(metrics)s, %(dag_id)s, %(run_id)s,
        %(data_interval_start)s::timestamptz, %(data_interval_end)s::timestamptz)
ON CONFLICT (solution_version_arn) DO UPDATE
   SET metrics     = EXCLUDED.metrics,
       dag_id      = EXCLUDED.dag_id,
       run_id      = EXCLUDED.run_id,
       recorded_at = clock_timestamp()
