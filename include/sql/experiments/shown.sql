-- The recommendations the experiment showed each user in [start, until), under any variant: what an
-- attributed metric's events must carry. Loaded into the report's experiment_shown.
SELECT DISTINCT user_id, recommendation_id
FROM {schema}.experiment_exposures
WHERE experiment = %(experiment)s AND exposed_at >= %(start)s AND exposed_at < %(until)s
  AND batch_last_at >= %(start)s AND batch_first_at < %(until)s
