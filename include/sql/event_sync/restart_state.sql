-- Move the watermark to a chosen time (the run's restart_from): everything from there is sent
-- again, whenever it was inserted. Once per run: a retry of the same run, which finds its own
-- run_id here, resumes where the failed attempt stopped instead.
UPDATE {schema}.event_sync_state
SET last_ts = %(restart_ts)s, last_key = '', last_xid = '0', from_ts = %(restart_ts)s,
    updated_at = now(), run_id = %(run_id)s
WHERE tracker = %(tracker)s AND run_id IS DISTINCT FROM %(run_id)s
