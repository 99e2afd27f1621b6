-- Every gated version of one solution, the most recent decision first.
SELECT solution_version_arn, solution, training_mode, metrics, gate_metric, candidate_value, live_value,
       compared_with, decision, reasons, rules, dag_id, run_id, data_interval_start, data_interval_end,
       first_decided_at, decided_at, baseline_value, baseline_version_arn
  FROM {schema}.solution_metrics
 WHERE solution = %(solution)s
 ORDER BY decision_seq DESC
