-- Exposures the API dropped (buffer full, database down), added to their minute's count.
INSERT INTO {schema}.experiment_exposures_lost (experiment, minute, lost)
VALUES (%(experiment)s, date_trunc('minute', %(at)s::timestamptz), %(lost)s)
ON CONFLICT (experiment, minute) DO UPDATE
   SET lost = {schema}.experiment_exposures_lost.lost + EXCLUDED.lost
