-- Added after the rows are copied in: one sort of the snapshot instead of an index kept up per row.
ALTER TABLE {table} ADD CONSTRAINT {constraint} PRIMARY KEY ({columns})
