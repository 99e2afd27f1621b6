-- The solution's most recently promoted version (skipping the gate counts as promoting),
-- leaving out the candidate itself so that a rerun compares with what was live before it.
-- With %(solution_arn)s, only versions of that Personalize solution count: two dataset groups
-- that share this schema and a solution key never compare with each other's versions.
SELECT solution_version_arn, metrics
  FROM {schema}.solution_metrics
 WHERE solution = %(solution)s
   AND decision IN ('promoted', 'skipped_gate')
   AND solution_version_arn IS DISTINCT FROM %(exclude_arn)s
   AND (%(solution_arn)s::text IS NULL OR starts_with(solution_version_arn, %(solution_arn)s::text || '/'))
 ORDER BY decision_seq DESC
 LIMIT 1
