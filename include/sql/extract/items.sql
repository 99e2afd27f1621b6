-- Items dataset: the catalogue as of the interval's end (products created before it), with
-- numeric price and epoch-second creation time. Attributes are their current values: the store
-- keeps no history of changes or deletions.
SELECT
    p.product_id                              AS "ITEM_ID",
    p.category                                AS "CATEGORY",
    p.price::float8                           AS "PRICE",
    extract(epoch FROM p.created_at)::bigint  AS "CREATION_TIMESTAMP"
FROM store.products AS p
WHERE p.created_at < %(end)s
ORDER BY p.product_id
