-- The query's rows as Personalize CSV: PostgreSQL's own CSV with a header line.
COPY (
{query}
) TO STDOUT WITH (FORMAT csv, HEADER true)
