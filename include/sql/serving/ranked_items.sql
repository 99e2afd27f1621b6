-- Some keys' ranked lists from a cache view, one row per key: its first n entries in rank order
-- as the JSON array the response carries, and the load that serves them. The view and
-- cache_loads change in the same transaction, so one statement sees them consistently for every
-- key it reads. {entry} is one entry's JSON, built from the view's listed column (item_id,
-- similar_item_id or user_id) and, for a scored list, r.score.
SELECT r.{key} AS key, json_agg({entry} ORDER BY r.rank)::text AS entries, l.load_id
  FROM {view} AS r
 CROSS JOIN (SELECT load_id FROM {schema}.cache_loads
              WHERE cache_name = %(cache_name)s AND status = 'live') AS l
 WHERE r.{key} = ANY(%(keys)s) AND r.rank <= %(n)s
 GROUP BY r.{key}, l.load_id
