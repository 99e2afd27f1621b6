-- A batch of exposures from the API's buffer, in binary format (serving/exposures.py sets the types).
COPY {schema}.experiment_exposures (experiment, variant, user_id, recommendation_id, source, exposed_at)
FROM STDIN (FORMAT BINARY)
