-- The user's personalized rows if the live snapshot has any, else the popular list.
-- One SELECT, so PostgreSQL inlines it: the user lookup is an index scan on the snapshot's user_id,
-- then the unnest of that one row (the view).
WITH personal AS (
    SELECT r.rank::int AS rank, r.item_id, r.score, 'personalized'::text AS source
      FROM {user_cache} AS r
     WHERE r.user_id = p_user_id
     ORDER BY r.rank
     LIMIT p_limit
)
SELECT rank, item_id, score, source FROM personal
UNION ALL
(SELECT p.rank::int, p.item_id, p.score, 'popular'::text
   FROM {popular} AS p
  WHERE NOT EXISTS (SELECT FROM personal)
  ORDER BY p.rank
  LIMIT p_limit)
ORDER BY rank
