UPDATE {schema}.cache_loads SET status = 'failed', finished_at = now() WHERE load_id = %(load_id)s
