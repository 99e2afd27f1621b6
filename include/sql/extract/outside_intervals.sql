-- The first row, and how many, of an interval query run over a range no export interval covers
-- (before the pipeline's start_date, or after now): such rows would never be exported.
SELECT q."USER_ID", q."ITEM_ID", q."TIMESTAMP", count(*) OVER () AS total
FROM ({query}) AS q
LIMIT 1
