-- One snapshot of similar items (RELATED_ITEMS recipes such as aws-sims): for each item, its
-- neighbours in rank order and their scores; the view shows (item_id, rank, similar_item_id, score).
-- The primary key (item_id) is added after the rows are copied in.
CREATE TABLE {table} (
    item_id          text               NOT NULL,
    similar_item_ids text[]             NOT NULL,
    scores           double precision[]
)
