-- The newest snapshot before the live one that still exists: where a rollback goes.
SELECT load_id, snapshot_table, kind
  FROM {schema}.cache_loads
 WHERE cache_name = %(cache_name)s
   AND status = 'previous'
 ORDER BY load_id DESC
 LIMIT 1
