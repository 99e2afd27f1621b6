-- One snapshot of per-user recommendations; the live view points at exactly one snapshot.
-- The primary key (user_id, rank) is added after the rows are copied in (one sort, not per-row upkeep).
CREATE TABLE {table} (
    user_id text             NOT NULL,
    rank    smallint         NOT NULL,
    item_id text             NOT NULL,
    score   double precision
)
