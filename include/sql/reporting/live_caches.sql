-- Each cache's live load: what the application reads now.
SELECT cache_name, row_count, key_count, load_id, solution_version_arn, finished_at
  FROM {schema}.cache_loads
 WHERE status = 'live'
 ORDER BY cache_name
