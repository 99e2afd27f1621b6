-- The first run of a tracker starts at the initial watermark; later runs keep what is stored.
INSERT INTO {schema}.event_sync_state (tracker, last_ts, last_key, last_xid, from_ts)
VALUES (%(tracker)s, %(initial_ts)s, '', '0', %(initial_ts)s)
ON CONFLICT (tracker) DO NOTHING
