-- One snapshot of user segments (USER_SEGMENTATION recipes such as aws-item-affinity): for each
-- item, the users most likely to engage with it, most likely first; the view shows
-- (item_id, rank, user_id). Segment jobs give no scores.
-- The primary key (item_id) is added after the rows are copied in.
CREATE TABLE {table} (
    item_id  text   NOT NULL,
    user_ids text[] NOT NULL
)
