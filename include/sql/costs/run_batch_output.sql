-- What one run's batch jobs produced, from the loads of their output: recommendation lines
-- (one per user or item) and the users across every segment. Each job counts once: a rerun of
-- the run adopts its jobs (nothing new is billed) and loads their output again.
SELECT coalesce(sum(key_count) FILTER (WHERE kind <> 'USER_SEGMENTATION'), 0) AS batch_recommendations,
       coalesce(sum(row_count) FILTER (WHERE kind = 'USER_SEGMENTATION'), 0) AS segment_users
  FROM (SELECT DISTINCT ON (batch_job_arn) kind, key_count, row_count
          FROM {schema}.cache_loads
         WHERE run_id = %(run_id)s
           AND batch_job_arn IS NOT NULL
         ORDER BY batch_job_arn, load_id DESC) AS jobs
