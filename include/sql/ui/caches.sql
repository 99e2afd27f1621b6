-- Each cache's live load, its age and how many snapshots are kept to roll back to.
SELECT l.cache_name, l.kind, l.load_id, l.row_count, l.key_count, l.solution_version_arn,
       l.run_id, l.finished_at, l.data_interval_end,
       extract(epoch FROM now() - l.finished_at) AS age_seconds,
       (SELECT count(*)
          FROM {schema}.cache_loads AS k
         WHERE k.cache_name = l.cache_name
           AND k.status IN ('live', 'previous', 'rolled_back')) AS snapshots_kept
  FROM {schema}.cache_loads AS l
 WHERE l.status = 'live'
 ORDER BY l.cache_name
