-- One key's ranked list from a cache view, with the load that serves it: the view and
-- cache_loads change in the same transaction, so one statement sees them consistently.
-- {value} is the view's item column (item_id, similar_item_id or user_id); {score} a column or NULL.
SELECT r.{value} AS value, {score} AS score, l.load_id
  FROM {view} AS r
 CROSS JOIN (SELECT load_id FROM {schema}.cache_loads
              WHERE cache_name = %(cache_name)s AND status = 'live') AS l
 WHERE r.{key} = %(key)s
 ORDER BY r.rank
 LIMIT %(n)s
