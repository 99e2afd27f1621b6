-- One snapshot of per-user recommendations: each user's items, best first, and their scores.
-- The view user_recommendations shows them as (user_id, rank, item_id, score) rows.
-- The primary key (user_id) is added after the rows are copied in (one sort, not per-row upkeep).
CREATE TABLE {table} (
    user_id  text               NOT NULL,
    item_ids text[]             NOT NULL,
    scores   double precision[]
)
