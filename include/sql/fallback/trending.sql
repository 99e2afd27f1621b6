-- Trending items: the products whose interactions grew most in the last %(days)s days before
-- %(as_of)s (recent) against the %(days)s days before that (previous). Interactions are counted as
-- in popular.sql: one per browsing event, one per order line.
--
-- score = (recent - previous) / sqrt(previous + 1)
--
-- Under a Poisson model the noise of a count is about its square root, so this is the growth in
-- units of the previous window's noise: 10 new interactions on a product that had none (10.0)
-- outrank 100 more on one that had 900 (3.3), while a single stray view (1.0) does not outrank a
-- real rise. Only products that grew (recent > previous) are listed; ties go to the larger recent
-- count, then the smaller product id. Takes %(as_of)s (timestamptz), %(days)s and %(size)s.
WITH window_bounds AS (
    SELECT %(as_of)s::timestamptz - make_interval(days => 2 * %(days)s::int) AS since,
           %(as_of)s::timestamptz - make_interval(days => %(days)s::int)     AS middle,
           %(as_of)s::timestamptz                                            AS until
),
interactions AS (
    SELECT e.product_id AS item_id, e.occurred_at AS at
      FROM store.events AS e, window_bounds AS w
     WHERE e.occurred_at >= w.since AND e.occurred_at < w.until

    UNION ALL

    SELECT oi.product_id AS item_id, o.ordered_at AS at
      FROM store.orders AS o
      JOIN store.order_items AS oi ON oi.order_id = o.order_id
     CROSS JOIN window_bounds AS w
     WHERE o.ordered_at >= w.since AND o.ordered_at < w.until
),
counted AS (
    SELECT i.item_id,
           count(*) FILTER (WHERE i.at >= w.middle) AS recent,
           count(*) FILTER (WHERE i.at < w.middle)  AS previous
      FROM interactions AS i, window_bounds AS w
     GROUP BY i.item_id
),
growing AS (
    SELECT item_id, recent, (recent - previous) / sqrt(previous + 1.0)::float8 AS score
      FROM counted
     WHERE recent > previous
)
SELECT row_number() OVER (ORDER BY score DESC, recent DESC, item_id) AS rank,
       item_id,
       score
  FROM growing
 ORDER BY rank
 LIMIT %(size)s
