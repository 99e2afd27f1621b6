-- Which export partitions each dataset import job brought into Personalize, so a weekly
-- INCREMENTAL run imports only what the last FULL import and later runs have not.
CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.dataset_imports (
    dataset_group   text        NOT NULL,
    dataset         text        NOT NULL,
    partition_label text        NOT NULL,
    import_mode     text        NOT NULL CHECK (import_mode IN ('FULL', 'INCREMENTAL')),
    import_job_arn  text        NOT NULL,
    dag_id          text,
    run_id          text,
    imported_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset_group, dataset, partition_label, import_job_arn)
);
