"""A one-task DAG for provider tests: import the file given in the run's conf, waiting deferred."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from personalize_provider.operators.personalize import PersonalizeCreateDatasetImportJobOperator

with DAG(
    dag_id="provider_import_job_deferred",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    default_args={"retries": 0},
    params={"dataset_arn": "", "data_location": ""},
):
    PersonalizeCreateDatasetImportJobOperator(
        task_id="import",
        dataset_arn="{{ params.dataset_arn }}",
        data_location="{{ params.data_location }}",
        waiter_delay=1,
        deferrable=True,
    )
