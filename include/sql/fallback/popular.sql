-- Popular items: the most interacted-with products in the %(days)s days before %(as_of)s.
-- Every browsing event counts once and every order line counts once (a purchase), so the score is
-- the number of interactions in the window. Ties go to the smaller product id, for a stable order.
-- Takes %(as_of)s (timestamptz), %(days)s and %(size)s (the list length).
WITH window_bounds AS (
    SELECT %(as_of)s::timestamptz - make_interval(days => %(days)s::int) AS since,
           %(as_of)s::timestamptz                                        AS until
),
interactions AS (
    SELECT e.product_id AS item_id
      FROM store.events AS e, window_bounds AS w
     WHERE e.occurred_at >= w.since AND e.occurred_at < w.until

    UNION ALL

    SELECT oi.product_id AS item_id
      FROM store.orders AS o
      JOIN store.order_items AS oi ON oi.order_id = o.order_id
     CROSS JOIN window_bounds AS w
     WHERE o.ordered_at >= w.since AND o.ordered_at < w.until
),
counted AS (
    SELECT item_id, count(*) AS interactions
      FROM interactions
     GROUP BY item_id
)
SELECT row_number() OVER (ORDER BY interactions DESC, item_id) AS rank,
       item_id,
       interactions::float8 AS score
  FROM counted
 ORDER BY rank
 LIMIT %(size)s
