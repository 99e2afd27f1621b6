-- After every PutEvents call of a chunk succeeded: the chunk's last (transaction, time, key)
-- becomes the watermark.
UPDATE {schema}.event_sync_state
SET last_xid = %(last_xid)s::xid8,
    last_ts = %(last_ts)s,
    last_key = %(last_key)s,
    events_sent = events_sent + %(sent)s,
    updated_at = now(),
    run_id = %(run_id)s
WHERE tracker = %(tracker)s
