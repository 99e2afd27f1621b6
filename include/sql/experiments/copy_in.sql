-- The exposures' rows streamed from the cache database's COPY TO into the report's temporary table.
COPY {table} FROM STDIN
