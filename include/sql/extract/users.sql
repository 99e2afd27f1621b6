-- Users dataset: the customers created before the interval's end, with the attributes
-- Personalize can use for cold start. Attributes are their current values: the store keeps no
-- history of changes or deletions.
SELECT
    c.customer_id AS "USER_ID",
    c.country     AS "COUNTRY",
    c.age_band    AS "AGE_BAND"
FROM store.customers AS c
WHERE c.created_at < %(end)s
ORDER BY c.customer_id
