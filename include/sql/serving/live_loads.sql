-- Each cache's live load and its age, for /health.
SELECT cache_name, load_id, row_count, finished_at,
       extract(epoch FROM now() - finished_at)::float8 AS age_seconds
  FROM {schema}.cache_loads
 WHERE status = 'live'
