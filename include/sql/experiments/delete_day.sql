-- A rerun of a day replaces all its rows, also those of variants no longer configured.
DELETE FROM {schema}.experiment_results WHERE experiment = %(experiment)s AND day = %(day)s
