-- Customers with interactions in [start, end) (the pipeline's own interactions query), and how
-- many of them have a row in the user cache.
WITH active AS (
    SELECT DISTINCT i."USER_ID" AS user_id FROM ({interactions}) AS i
)
SELECT count(*) AS active,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM {user_cache} AS c WHERE c.user_id = a.user_id)) AS covered
  FROM active AS a
