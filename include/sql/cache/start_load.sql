INSERT INTO {schema}.cache_loads
    (cache_name, snapshot_table, status, dag_id, run_id, source_uri, batch_job_arn, solution_version_arn)
VALUES (%(cache_name)s, '', 'loading', %(dag_id)s, %(run_id)s, %(source_uri)s, %(batch_job_arn)s,
        %(solution_version_arn)s)
RETURNING load_id
