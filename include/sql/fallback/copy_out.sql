-- The computed fallback list, streamed out for a COPY FROM into the cache.
COPY (
{query}
) TO STDOUT
