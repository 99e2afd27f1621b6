-- Interactions after the watermark (time, source key) and before the run's end, oldest first.
-- The source key becomes the PutEvents eventId, so a resent interaction is recognised:
-- 'e:<event_id>' for browsing events, 'o:<order_id>:<line_no>' for order lines (one 'purchase'
-- each, timed at the order, as in extract/interactions.sql). Keys compare bytewise (COLLATE "C")
-- so the order does not depend on the database's locale.
SELECT i.user_id, i.item_id, i.event_type, i.occurred_at, i.event_key
FROM (
    SELECT
        e.customer_id               AS user_id,
        e.product_id                AS item_id,
        e.event_type                AS event_type,
        e.occurred_at               AS occurred_at,
        'e:' || e.event_id::text    AS event_key
    FROM store.events AS e
    WHERE e.occurred_at >= %(since)s AND e.occurred_at < %(until)s

    UNION ALL

    SELECT
        o.customer_id                                   AS user_id,
        oi.product_id                                   AS item_id,
        'purchase'                                      AS event_type,
        o.ordered_at                                    AS occurred_at,
        'o:' || o.order_id || ':' || oi.line_no::text   AS event_key
    FROM store.orders AS o
    JOIN store.order_items AS oi ON oi.order_id = o.order_id
    WHERE o.ordered_at >= %(since)s AND o.ordered_at < %(until)s
) AS i
WHERE i.occurred_at > %(since)s
   OR (i.occurred_at = %(since)s AND i.event_key COLLATE "C" > %(since_key)s COLLATE "C")
ORDER BY i.occurred_at, i.event_key COLLATE "C"
LIMIT %(max_events)s
