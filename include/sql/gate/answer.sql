-- A human's answer (or the timeout) on a candidate that waited for approval: the final decision.
-- Only a row still awaiting approval changes, so a late or repeated answer cannot flip a decision.
UPDATE {schema}.solution_metrics
   SET decision     = %(decision)s,
       reasons      = reasons || %(reason)s::text,
       decided_at   = clock_timestamp(),
       decision_seq = DEFAULT
 WHERE solution_version_arn = %(solution_version_arn)s
   AND decision = 'awaiting_approval'
RETURNING decision
