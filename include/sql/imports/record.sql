INSERT INTO {schema}.dataset_imports
    (dataset_group, dataset, partition_label, import_mode, import_job_arn, dag_id, run_id)
VALUES (%(dataset_group)s, %(dataset)s, %(partition_label)s, %(import_mode)s, %(import_job_arn)s,
        %(dag_id)s, %(run_id)s)
ON CONFLICT (dataset_group, dataset, partition_label, import_job_arn) DO NOTHING
