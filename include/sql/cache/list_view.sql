-- Readers see one row per (key, rank); the snapshot holds one row per key with its ranked values
-- as an array. A lookup by key is a primary-key probe and the unnest of one row.
-- Replacing the view inside a transaction swaps snapshots atomically.
CREATE OR REPLACE VIEW {view} AS
SELECT s.{key}, r.rank::smallint AS rank, r.{value}
  FROM {table} AS s
 CROSS JOIN LATERAL unnest(s.{values}) WITH ORDINALITY AS r ({value}, rank)
