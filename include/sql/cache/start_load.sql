INSERT INTO {schema}.cache_loads
    (cache_name, snapshot_table, status, kind, dag_id, run_id, source_uri, batch_job_arn,
     solution_version_arn, data_interval_start, data_interval_end, metrics, input_count)
VALUES (%(cache_name)s, '', 'loading', %(kind)s, %(dag_id)s, %(run_id)s, %(source_uri)s, %(batch_job_arn)s,
        %(solution_version_arn)s, %(data_interval_start)s, %(data_interval_end)s, %(metrics)s,
        %(input_count)s)
RETURNING load_id
