-- Rows into a new snapshot, in PostgreSQL's binary format; FREEZE: the table was made in this transaction.
COPY {table} ({columns}) FROM STDIN WITH (FORMAT binary, FREEZE)
