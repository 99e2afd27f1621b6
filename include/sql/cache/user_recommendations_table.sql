-- One snapshot of per-user recommendations; the live view points at exactly one snapshot.
CREATE TABLE {table} (
    user_id text             NOT NULL,
    rank    smallint         NOT NULL,
    item_id text             NOT NULL,
    score   double precision
)
