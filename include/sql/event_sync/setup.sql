-- Where event sync has got to, per event tracker: the (time, source key) of the last interaction
-- sent. Advanced only after a chunk's PutEvents calls succeeded, committed per chunk.
CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.event_sync_state (
    tracker     text        PRIMARY KEY,
    last_ts     timestamptz NOT NULL,
    last_key    text        NOT NULL,
    events_sent bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    run_id      text
)
