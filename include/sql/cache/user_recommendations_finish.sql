ALTER TABLE {table} ADD CONSTRAINT {primary_key} PRIMARY KEY (user_id, rank)
