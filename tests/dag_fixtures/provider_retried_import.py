"""A one-task DAG whose first attempt dies right after starting its import job; Airflow retries it."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from personalize_provider.operators.personalize import PersonalizeCreateDatasetImportJobOperator


class WorkerLostAfterCreate(RuntimeError):
    """What a worker dying between the create call and the wait looks like to the task."""


class ImportThatDiesOnItsFirstTry(PersonalizeCreateDatasetImportJobOperator):
    """The job is started on every try; the first try fails before it waits for the job."""

    def wait_until_active(self, context, arn: str, kind_name: str = "") -> str:
        if context["ti"].try_number == 1:
            raise WorkerLostAfterCreate(f"worker lost after starting {arn}")
        return super().wait_until_active(context, arn, kind_name)


with DAG(
    dag_id="provider_import_job_retried",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    default_args={"retries": 1, "retry_delay": timedelta(0)},
    params={"dataset_arn": "", "data_location": ""},
):
    ImportThatDiesOnItsFirstTry(
        task_id="import",
        dataset_arn="{{ params.dataset_arn }}",
        data_location="{{ params.data_location }}",
        waiter_delay=1,
        deferrable=False,
    )
