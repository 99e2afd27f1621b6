-- Per variant of one experiment, cumulative over [start, until), from the report's
-- experiment_exposed (each user in the variant of their first exposure, include/sql/experiments/
-- exposed_users.sql): the users, their exposures, those also shown another variant (crossovers),
-- and the users with an event of the metric's type at or after their first exposure. An attributed
-- metric counts only events carrying a recommendation_id the experiment showed that user.
-- Purchases are the store's orders; views and carts its events (as include/sql/extract/interactions.sql).
WITH interactions AS (
    SELECT e.customer_id AS user_id, e.occurred_at AS at, e.recommendation_id
    FROM store.events AS e
    WHERE e.event_type = %(event_type)s AND e.occurred_at >= %(start)s AND e.occurred_at < %(until)s
    UNION ALL
    SELECT o.customer_id, o.ordered_at, o.recommendation_id
    FROM store.orders AS o
    WHERE %(event_type)s = 'purchase' AND o.ordered_at >= %(start)s AND o.ordered_at < %(until)s
),
converted AS (
    SELECT DISTINCT x.user_id
    FROM experiment_exposed AS x
    JOIN interactions AS i ON i.user_id = x.user_id AND i.at >= x.first_exposed
    WHERE NOT %(attributed)s OR EXISTS (
        SELECT 1 FROM experiment_shown AS s
        WHERE s.user_id = x.user_id AND s.recommendation_id = i.recommendation_id
    )
)
SELECT x.variant, count(*) AS users, sum(x.exposures)::bigint AS exposures,
       count(c.user_id) AS conversions, count(*) FILTER (WHERE x.crossed) AS crossovers
FROM experiment_exposed AS x
LEFT JOIN converted AS c ON c.user_id = x.user_id
GROUP BY x.variant
