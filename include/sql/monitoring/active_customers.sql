-- Customers with an event or an order in [start, end), and how many of them the cache serves.
WITH active AS (
    SELECT customer_id FROM store.events WHERE occurred_at >= %(start)s AND occurred_at < %(end)s
    UNION
    SELECT customer_id FROM store.orders WHERE ordered_at >= %(start)s AND ordered_at < %(end)s
)
SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM {snapshot} s WHERE s.{key} = a.customer_id))
  FROM active AS a
