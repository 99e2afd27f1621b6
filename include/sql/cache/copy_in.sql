-- A fallback list streamed from the store's COPY TO, as text; FREEZE: the table was made in this transaction.
COPY {table} ({columns}) FROM STDIN WITH (FREEZE)
