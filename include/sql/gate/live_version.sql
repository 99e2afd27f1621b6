-- The solution's most recently promoted version (skipping the gate counts as promoting),
-- leaving out the candidate itself so that a rerun compares with what was live before it.
SELECT solution_version_arn, metrics
  FROM {schema}.solution_metrics
 WHERE solution = %(solution)s
   AND decision IN ('promoted', 'skipped_gate')
   AND solution_version_arn IS DISTINCT FROM %(exclude_arn)s
 ORDER BY decision_seq DESC
 LIMIT 1
