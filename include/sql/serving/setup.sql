-- Run by the recommendation API at start-up. Events it appends get their event_id from this
-- sequence, moved past the ids already in the table (the data generator numbers its own from 1).
CREATE SEQUENCE IF NOT EXISTS store.events_event_id_seq AS bigint;

SELECT setval('store.events_event_id_seq',
              greatest((SELECT coalesce(max(event_id), 0) FROM store.events),
                       (SELECT last_value FROM store.events_event_id_seq), 1))
