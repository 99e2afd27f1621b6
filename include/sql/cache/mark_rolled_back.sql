-- The live load is set aside as 'rolled_back' (kept, not served); the target becomes live again.
UPDATE {schema}.cache_loads
   SET status = CASE WHEN load_id = %(target_id)s THEN 'live' ELSE 'rolled_back' END
 WHERE cache_name = %(cache_name)s
   AND (load_id = %(target_id)s OR status = 'live')
