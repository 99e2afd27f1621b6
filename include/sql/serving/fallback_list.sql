-- A whole fallback list (popular or trending), kept in the API's memory, with its live load.
SELECT r.item_id, r.score, l.load_id
  FROM {view} AS r
 CROSS JOIN (SELECT load_id FROM {schema}.cache_loads
              WHERE cache_name = %(cache_name)s AND status = 'live') AS l
 ORDER BY r.rank
