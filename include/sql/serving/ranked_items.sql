-- Some keys' ranked lists from a cache view, one row per key (its first n values and scores in
-- rank order), with the load that serves them: the view and cache_loads change in the same
-- transaction, so one statement sees them consistently for every key it reads.
-- {value} is the view's item column (item_id, similar_item_id or user_id); {score} a column or NULL.
SELECT r.{key} AS key,
       array_agg(r.{value} ORDER BY r.rank) AS ranked_values,
       array_agg({score} ORDER BY r.rank) AS scores,
       l.load_id
  FROM {view} AS r
 CROSS JOIN (SELECT load_id FROM {schema}.cache_loads
              WHERE cache_name = %(cache_name)s AND status = 'live') AS l
 WHERE r.{key} = ANY(%(keys)s) AND r.rank <= %(n)s
 GROUP BY r.{key}, l.load_id
