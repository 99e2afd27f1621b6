-- A query over the exposures streamed out of the cache database, for a COPY FROM on the store's.
COPY (
{query}
) TO STDOUT
