-- One flush's exposures of one experiment, variant and source (serving/exposures.py).
INSERT INTO {schema}.experiment_exposure_batches
    (experiment, variant, source, first_at, last_at, user_ids, recommendation_ids, exposed_us)
VALUES (%(experiment)s, %(variant)s, %(source)s, %(first_at)s, %(last_at)s,
        %(user_ids)s, %(recommendation_ids)s, %(exposed_us)s)
