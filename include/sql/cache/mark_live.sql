-- The snapshot that was live becomes 'previous'; the new one becomes 'live'.
UPDATE {schema}.cache_loads
   SET status = CASE WHEN load_id = %(load_id)s THEN 'live' ELSE 'previous' END,
       finished_at = CASE WHEN load_id = %(load_id)s THEN now() ELSE finished_at END,
       row_count = CASE WHEN load_id = %(load_id)s THEN %(row_count)s ELSE row_count END,
       key_count = CASE WHEN load_id = %(load_id)s THEN %(key_count)s ELSE key_count END,
       error_count = CASE WHEN load_id = %(load_id)s THEN %(error_count)s ELSE error_count END
 WHERE cache_name = %(cache_name)s
   AND (load_id = %(load_id)s OR status = 'live')
