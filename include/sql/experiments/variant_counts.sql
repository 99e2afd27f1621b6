-- Per variant of one experiment, cumulative over [start, until): the users exposed, their exposures,
-- and the users with an event of the metric's type at or after their first exposure. An attributed
-- metric counts only events carrying a recommendation_id the experiment showed that user.
-- Purchases are the store's orders; views and carts its events (as include/sql/extract/interactions.sql).
WITH shown AS (
    SELECT variant, user_id, recommendation_id, exposed_at
    FROM {schema}.experiment_exposures
    WHERE experiment = %(experiment)s AND exposed_at >= %(start)s AND exposed_at < %(until)s
),
exposed AS (
    SELECT variant, user_id, min(exposed_at) AS first_exposed, count(*) AS exposures
    FROM shown
    GROUP BY variant, user_id
),
interactions AS (
    SELECT e.customer_id AS user_id, e.occurred_at AS at, e.recommendation_id
    FROM store.events AS e
    WHERE e.event_type = %(event_type)s AND e.occurred_at >= %(start)s AND e.occurred_at < %(until)s
    UNION ALL
    SELECT o.customer_id, o.ordered_at, o.recommendation_id
    FROM store.orders AS o
    WHERE %(event_type)s = 'purchase' AND o.ordered_at >= %(start)s AND o.ordered_at < %(until)s
),
converted AS (
    SELECT DISTINCT x.variant, x.user_id
    FROM exposed AS x
    JOIN interactions AS i ON i.user_id = x.user_id AND i.at >= x.first_exposed
    WHERE NOT %(attributed)s OR EXISTS (
        SELECT 1 FROM shown AS s
        WHERE s.user_id = x.user_id AND s.variant = x.variant AND s.recommendation_id = i.recommendation_id
    )
)
SELECT x.variant, count(*) AS users, sum(x.exposures)::bigint AS exposures, count(c.user_id) AS conversions
FROM exposed AS x
LEFT JOIN converted AS c ON c.variant = x.variant AND c.user_id = x.user_id
GROUP BY x.variant
