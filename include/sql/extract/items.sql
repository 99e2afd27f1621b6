-- Items dataset: the whole catalogue, with numeric price and epoch-second creation time.
SELECT
    p.product_id                              AS "ITEM_ID",
    p.category                                AS "CATEGORY",
    p.price::float8                           AS "PRICE",
    extract(epoch FROM p.created_at)::bigint  AS "CREATION_TIMESTAMP"
FROM store.products AS p
ORDER BY p.product_id
