-- One snapshot of a fallback list (popular or trending items), computed from the store.
-- The primary key (rank) is added after the rows are copied in.
CREATE TABLE {table} (
    rank    smallint         NOT NULL,
    item_id text             NOT NULL,
    score   double precision NOT NULL
)
