-- SET LOCAL with a bound value: the setting lasts until the end of the transaction.
SELECT set_config(%(name)s, %(value)s, true)
