UPDATE {schema}.cache_loads SET status = 'dropped' WHERE load_id = %(load_id)s
