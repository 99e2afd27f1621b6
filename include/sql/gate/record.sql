INSERT INTO {schema}.solution_metrics
    (solution_version_arn, solution, training_mode, metrics, gate_metric, candidate_value, live_value,
     compared_with, decision, reasons, rules, dag_id, run_id, data_interval_start, data_interval_end,
     baseline_value, baseline_version_arn)
VALUES (%(solution_version_arn)s, %(solution)s, %(training_mode)s, %(metrics)s, %(gate_metric)s,
        %(candidate_value)s, %(live_value)s, %(compared_with)s, %(decision)s, %(reasons)s, %(rules)s,
        %(dag_id)s, %(run_id)s, %(data_interval_start)s::timestamptz, %(data_interval_end)s::timestamptz,
        %(baseline_value)s, %(baseline_version_arn)s)
ON CONFLICT (solution_version_arn) DO UPDATE
   SET solution            = EXCLUDED.solution,
       training_mode       = EXCLUDED.training_mode,
       metrics             = EXCLUDED.metrics,
       gate_metric         = EXCLUDED.gate_metric,
       candidate_value     = EXCLUDED.candidate_value,
       live_value          = EXCLUDED.live_value,
       compared_with       = EXCLUDED.compared_with,
       decision            = EXCLUDED.decision,
       reasons             = EXCLUDED.reasons,
       rules               = EXCLUDED.rules,
       dag_id              = EXCLUDED.dag_id,
       run_id              = EXCLUDED.run_id,
       data_interval_start = EXCLUDED.data_interval_start,
       data_interval_end   = EXCLUDED.data_interval_end,
       baseline_value      = EXCLUDED.baseline_value,
       baseline_version_arn = EXCLUDED.baseline_version_arn,
       decided_at          = clock_timestamp(),
       decision_seq        = DEFAULT
