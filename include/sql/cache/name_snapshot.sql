UPDATE {schema}.cache_loads SET snapshot_table = %(snapshot)s WHERE load_id = %(load_id)s
