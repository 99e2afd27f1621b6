-- One JSON object a row. PostgreSQL renders each line as JSON; CSV with control characters that
-- JSON always escapes as delimiter and quote passes the text through untouched (text format
-- would double backslashes).
COPY (SELECT json_build_object({key}, q.{column})::text FROM (
{query}
) AS q) TO STDOUT WITH (FORMAT csv, DELIMITER E'\x02', QUOTE E'\x01')
