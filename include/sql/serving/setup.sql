-- Run by the recommendation API at start-up (then serving/reseat_event_ids.sql): events it
-- appends get their event_id from this sequence.
CREATE SEQUENCE IF NOT EXISTS store.events_event_id_seq AS bigint;
