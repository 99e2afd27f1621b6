-- Users with two or more interactions in [start, end), counted by the interactions export's own
-- query, so the count is over what the exported partitions of that range hold.
SELECT count(*)
FROM (
    SELECT i."USER_ID"
    FROM (
{query}
    ) AS i
    GROUP BY i."USER_ID"
    HAVING count(*) >= 2
) AS active
