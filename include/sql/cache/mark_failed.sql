UPDATE {schema}.cache_loads
   SET status = 'failed', finished_at = now(), failure_reason = %(reason)s
 WHERE load_id = %(load_id)s
