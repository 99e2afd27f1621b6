-- Batch input for item-keyed jobs (similar items, item-affinity segments): every product, in order.
SELECT p.product_id AS item_id
FROM store.products AS p
ORDER BY p.product_id
