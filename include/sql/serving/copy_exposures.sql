-- A batch of exposures from the API's buffer.
COPY {schema}.experiment_exposures (experiment, variant, user_id, recommendation_id, source, exposed_at)
FROM STDIN
