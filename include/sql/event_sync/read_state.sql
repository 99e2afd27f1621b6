SELECT last_ts, last_key, events_sent, run_id, last_xid::text, from_ts
FROM {schema}.event_sync_state
WHERE tracker = %(tracker)s
