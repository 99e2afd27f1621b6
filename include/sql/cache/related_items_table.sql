-- One snapshot of similar items (RELATED_ITEMS recipes such as aws-sims): for each item, its
-- neighbours in rank order. The primary key (item_id, rank) is added after the rows are copied in.
CREATE TABLE {table} (
    item_id         text             NOT NULL,
    rank            smallint         NOT NULL,
    similar_item_id text             NOT NULL,
    score           double precision
)
