-- Every gated version of one solution in the order it was first decided (the page's x axis).
-- SELECT *: columns another version adds (a popularity baseline) reach the page without a change here.
SELECT *
  FROM {schema}.solution_metrics
 WHERE solution = %(solution)s
 ORDER BY first_decided_at, decision_seq
