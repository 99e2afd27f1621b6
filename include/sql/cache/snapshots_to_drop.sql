-- Snapshots older than the newest %(keep)s successful ones (never the live one), and failed loads.
SELECT load_id, snapshot_table
  FROM {schema}.cache_loads
 WHERE cache_name = %(cache_name)s
   AND status IN ('previous', 'failed', 'rolled_back')
   AND load_id NOT IN (SELECT load_id FROM {schema}.cache_loads
                        WHERE cache_name = %(cache_name)s AND status IN ('live', 'previous')
                        ORDER BY load_id DESC LIMIT %(keep)s)
