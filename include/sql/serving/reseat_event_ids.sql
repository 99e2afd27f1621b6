-- Moves the API's event id sequence past the ids already in store.events: at start-up (the data
-- generator numbers its own from 1) and again when another writer's rows took the next ids.
SELECT setval('store.events_event_id_seq',
              greatest((SELECT coalesce(max(event_id), 0) FROM store.events),
                       (SELECT last_value FROM store.events_event_id_seq), 1))
