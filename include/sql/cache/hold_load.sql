-- Held by the loading session until it ends (taken in the transaction that records the load):
-- cache/fail_abandoned_loads.sql tells a running load from one whose session died by this lock.
SELECT pg_advisory_lock(hashtext(%(lock_space)s), %(load_id)s::int)
