-- This load's coverage (a rerun of the check measures again), and the previous load's of the cache.
WITH recorded AS (
    INSERT INTO {schema}.cache_coverage
        (load_id, cache_name, active_customers, covered_customers, catalogue, covered_items)
    VALUES (%(load_id)s, %(cache_name)s, %(active_customers)s, %(covered_customers)s, %(catalogue)s,
            %(covered_items)s)
    ON CONFLICT (load_id) DO UPDATE
       SET active_customers  = EXCLUDED.active_customers,
           covered_customers = EXCLUDED.covered_customers,
           catalogue         = EXCLUDED.catalogue,
           covered_items     = EXCLUDED.covered_items,
           measured_at       = now()
    RETURNING load_id
)
SELECT load_id, active_customers, covered_customers, catalogue, covered_items
  FROM {schema}.cache_coverage
 WHERE cache_name = %(cache_name)s AND load_id < %(load_id)s
 ORDER BY load_id DESC
 LIMIT 1
