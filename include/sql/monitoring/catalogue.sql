-- The catalogue's size, and how many of its products appear in the cache's column {item}.
SELECT (SELECT count(*) FROM store.products),
       (SELECT count(*) FROM (SELECT DISTINCT {item} FROM {view}) AS c
          JOIN store.products AS p ON p.product_id = c.{item})
