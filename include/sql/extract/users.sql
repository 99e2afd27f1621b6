-- Users dataset: every customer with the attributes Personalize can use for cold start.
SELECT
    c.customer_id AS "USER_ID",
    c.country     AS "COUNTRY",
    c.age_band    AS "AGE_BAND"
FROM store.customers AS c
ORDER BY c.customer_id
