-- Customers worth a batch recommendation: anyone with an event or an order before end.
SELECT e.customer_id AS user_id
FROM store.events AS e
WHERE e.occurred_at < %(end)s

UNION

SELECT o.customer_id AS user_id
FROM store.orders AS o
WHERE o.ordered_at < %(end)s

ORDER BY user_id
