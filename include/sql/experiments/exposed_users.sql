-- Each user the experiment exposed in [start, until), attributed to the variant of their FIRST
-- exposure (ties by the order written): all their exposures, and whether they were also shown
-- another variant later (a crossover: weights changed mid-experiment, or a front end computed
-- another variant). Read from the cache database, loaded into the report's experiment_exposed.
SELECT user_id,
       (array_agg(variant ORDER BY exposed_at, batch_id, position))[1] AS variant,
       min(exposed_at) AS first_exposed,
       count(*) AS exposures,
       count(DISTINCT variant) > 1 AS crossed
FROM {schema}.experiment_exposures
WHERE experiment = %(experiment)s AND exposed_at >= %(start)s AND exposed_at < %(until)s
  -- the batches that can hold the window's exposures (their index), then the exposures
  AND batch_last_at >= %(start)s AND batch_first_at < %(until)s
GROUP BY user_id
