-- Readers query the view; replacing it inside a transaction swaps snapshots atomically.
CREATE OR REPLACE VIEW {view} AS SELECT * FROM {table}
