-- Loads of this cache left 'loading' by a session that ended without recording the outcome (a
-- killed worker, a restarted server). A running load holds its lock (cache/hold_load.sql), so a
-- lock that can be taken here belongs to no one; it is released when this statement commits.
UPDATE {schema}.cache_loads
   SET status = 'failed',
       finished_at = now(),
       failure_reason = 'abandoned: its session ended while loading; marked by the next load'
 WHERE cache_name = %(cache_name)s
   AND status = 'loading'
   AND pg_try_advisory_xact_lock(hashtext(%(lock_space)s), load_id::int)
RETURNING load_id
