-- Interactions not sent yet, in ingestion order: (ingesting transaction, time, source key) after
-- the watermark, oldest first. A row inserted late with an old time still comes after the
-- watermark, because its transaction is newer.
--
-- Transaction ids are assigned when a transaction first writes, not when it commits, so a lower
-- id can become visible after a higher one was read. Only ids below the xmin of this query's
-- snapshot are read: every transaction below it has ended (committed or rolled back), so no row
-- with a lower key can appear later. An open transaction holds the read back (not skipped).
--
-- Rows timed before from_ts are the bulk imports' (the tracker's start or a restart_from). Rows
-- timed at or after the run's end (%(until)s) are not due: the read stops before the first one,
-- so they go out, in order, with a run whose end has passed them.
--
-- The source key becomes the PutEvents eventId, so a resent interaction is recognised:
-- 'e:<event_id>' for browsing events, 'o:<order_id>:<line_no>' for order lines (one 'purchase'
-- each, timed at the order, as in extract/interactions.sql). Keys compare bytewise (COLLATE "C")
-- so the order does not depend on the database's locale.
WITH horizon AS (
    SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin
),
pending AS (
    SELECT
        e.ingest_xid                                AS ingest_xid,
        e.customer_id                               AS user_id,
        e.product_id                                AS item_id,
        e.event_type                                AS event_type,
        e.occurred_at                               AS occurred_at,
        ('e:' || e.event_id::text) COLLATE "C"      AS event_key
    FROM store.events AS e, horizon
    WHERE e.ingest_xid >= %(since_xid)s::xid8 AND e.ingest_xid < horizon.xmin
      AND e.occurred_at >= %(from_ts)s

    UNION ALL

    SELECT
        oi.ingest_xid                                                   AS ingest_xid,
        o.customer_id                                                   AS user_id,
        oi.product_id                                                   AS item_id,
        'purchase'                                                      AS event_type,
        o.ordered_at                                                    AS occurred_at,
        ('o:' || o.order_id || ':' || oi.line_no::text) COLLATE "C"     AS event_key
    FROM store.order_items AS oi
    JOIN store.orders AS o ON o.order_id = oi.order_id
    CROSS JOIN horizon
    WHERE oi.ingest_xid >= %(since_xid)s::xid8 AND oi.ingest_xid < horizon.xmin
      AND o.ordered_at >= %(from_ts)s
),
ordered AS (
    SELECT
        p.*,
        bool_and(p.occurred_at < %(until)s) OVER (
            ORDER BY p.ingest_xid, p.occurred_at, p.event_key ROWS UNBOUNDED PRECEDING
        ) AS due
    FROM pending AS p
    WHERE (p.ingest_xid, p.occurred_at, p.event_key)
        > (%(since_xid)s::xid8, %(since)s::timestamptz, %(since_key)s COLLATE "C")
)
SELECT user_id, item_id, event_type, occurred_at, event_key, ingest_xid::text
FROM ordered
WHERE due
ORDER BY ingest_xid, occurred_at, event_key
LIMIT %(max_events)s
