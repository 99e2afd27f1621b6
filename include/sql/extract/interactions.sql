-- Interactions dataset for one interval [start, end): browsing events as recorded,
-- plus one 'purchase' per order line, timed at the order.
SELECT
    interactions.user_id    AS "USER_ID",
    interactions.item_id    AS "ITEM_ID",
    interactions.event_type AS "EVENT_TYPE",
    interactions.ts         AS "TIMESTAMP"
FROM (
    SELECT
        e.customer_id                              AS user_id,
        e.product_id                               AS item_id,
        e.event_type                               AS event_type,
        extract(epoch FROM e.occurred_at)::bigint  AS ts
    FROM store.events AS e
    WHERE e.occurred_at >= %(start)s AND e.occurred_at < %(end)s

    UNION ALL

    SELECT
        o.customer_id                              AS user_id,
        oi.product_id                              AS item_id,
        'purchase'                                 AS event_type,
        extract(epoch FROM o.ordered_at)::bigint   AS ts
    FROM store.orders AS o
    JOIN store.order_items AS oi ON oi.order_id = o.order_id
    WHERE o.ordered_at >= %(start)s AND o.ordered_at < %(end)s
) AS interactions
ORDER BY interactions.ts, interactions.user_id, interactions.item_id, interactions.event_type
