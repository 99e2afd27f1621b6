-- The same rows when the store and the exposures share a database: no trip through the client.
INSERT INTO {table}
{query}
