-- Where event sync has got to, per event tracker: the (ingesting transaction, time, source key) of
-- the last interaction sent, and from_ts, the time before which interactions are the bulk imports'.
-- Advanced only after a chunk's PutEvents calls succeeded, committed per chunk.
CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.event_sync_state (
    tracker     text        PRIMARY KEY,
    last_ts     timestamptz NOT NULL,
    last_key    text        NOT NULL,
    events_sent bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    run_id      text
);

-- Trackers from before the ingestion-order watermark restart at their last time: what they sent
-- already is resent, and ignored by the service (same eventIds).
ALTER TABLE {schema}.event_sync_state ADD COLUMN IF NOT EXISTS last_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE {schema}.event_sync_state ADD COLUMN IF NOT EXISTS from_ts timestamptz;
UPDATE {schema}.event_sync_state SET from_ts = last_ts WHERE from_ts IS NULL
