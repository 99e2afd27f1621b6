SELECT last_ts, last_key, events_sent, run_id
FROM {schema}.event_sync_state
WHERE tracker = %(tracker)s
