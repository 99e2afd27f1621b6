-- The bare lower bound the benchmark compares the API with: one customer's row of the live snapshot.
SELECT item_ids[1:%(n)s] FROM {table} WHERE user_id = %(key)s
