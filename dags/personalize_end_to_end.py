"""
### Personalize end to end

PostgreSQL → Personalize CSVs in S3 → dataset group, schemas, datasets → FULL
imports → a user-personalization solution version → batch inference for every
customer with history → the `user_recommendations` cache in PostgreSQL, swapped
in atomically.

Every step is safe to retry: files are written per run and overwritten, AWS
resources are adopted by name, and a retried job reconnects to the one it
started. Waits on AWS are deferred, so no worker slot is held while
Personalize works.

Connections: `aws_default` (or the `aws_conn_id` param) for S3 and
Personalize; `store_db` for the store's tables and the cache.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param, TaskGroup, cross_downstream, task

from personalize_pipeline.config import load_config
from personalize_provider.operators.personalize import (
    PersonalizeCreateBatchInferenceJobOperator,
    PersonalizeCreateDatasetGroupOperator,
    PersonalizeCreateDatasetImportJobOperator,
    PersonalizeCreateDatasetOperator,
    PersonalizeCreateSchemaOperator,
    PersonalizeCreateSolutionOperator,
    PersonalizeCreateSolutionVersionOperator,
)

AWS_CONN_ID = "aws_default"
DB_CONN_ID = "store_db"
GROUP = "{{ params.dataset_group_name }}"
POLL = "{{ params.poll_seconds }}"

PARAMS = {
    "dataset_group_name": Param(
        "personalize-pipelines-demo",
        type="string",
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,40}$",
        description="Dataset group; schemas and solutions are named after it.",
    ),
    "bucket": Param(
        "personalize-pipelines-demo",
        type="string",
        minLength=3,
        description="S3 bucket for exports and batch files.",
    ),
    "s3_prefix": Param("personalize", type="string", description="Key prefix inside the bucket."),
    "role_arn": Param(
        "arn:aws:iam::123456789012:role/PersonalizePipelineRole",
        type="string",
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$",
        description="Role Personalize assumes to read and write the bucket.",
    ),
    "recipe_arn": Param("arn:aws:personalize:::recipe/aws-user-personalization", type="string"),
    "num_results": Param(
        25, type="integer", minimum=1, maximum=500, description="Recommendations per customer."
    ),
    "history_start": Param(
        "2000-01-01T00:00:00+00:00",
        type="string",
        format="date-time",
        description="Oldest interaction to export.",
    ),
    "cache_schema": Param("personalize_cache", type="string", pattern=r"^[a-z_][a-z0-9_]*$"),
    "poll_seconds": Param(
        int(os.environ.get("PERSONALIZE_POLL_SECONDS", "60")),
        type="integer",
        minimum=1,
        description="Seconds between status checks of AWS jobs.",
    ),
}

with DAG(
    dag_id="personalize_end_to_end",
    description="Extract, import, train, batch-score and cache recommendations.",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params=PARAMS,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=15),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    doc_md=__doc__,
    tags=["personalize", "walking-skeleton"],
) as dag:

    @task
    def run_folder(params: dict, dag_run=None) -> str:
        """This run's S3 folder: every file of the run lives under it and is rewritten on rerun."""
        from personalize_pipeline.s3_paths import run_folder as folder_of

        return folder_of(params["bucket"], params["s3_prefix"], dag_run.dag_id, dag_run.run_id)

    @task
    def export_dataset(dataset_type: str, folder: str, params: dict, dag_run=None) -> str:
        """Stream one dataset to ``<folder>/<type>.csv`` and validate it before any paid call."""
        from personalize_pipeline.extract import export_dataset_to_s3

        spec = next(s for s in load_config().dataset_specs() if s.dataset_type == dataset_type)
        uri = f"{folder}{spec.slug}.csv"
        export_dataset_to_s3(
            db_conn_id=DB_CONN_ID,
            aws_conn_id=AWS_CONN_ID,
            spec=spec,
            params={"start": params["history_start"], "end": dag_run.run_after},
            s3_uri=uri,
            report_uri=f"{folder}validation/{spec.slug}.json",
        )
        return uri

    @task(multiple_outputs=True)
    def build_batch_input(folder: str, dag_run=None) -> dict[str, str]:
        """One ``{"userId": …}`` line per customer with history, from the database."""
        from personalize_pipeline.batch_input import export_json_lines

        uri = f"{folder}batch-input/users.json"
        export_json_lines(
            db_conn_id=DB_CONN_ID,
            aws_conn_id=AWS_CONN_ID,
            query_file="extract/batch_users.sql",
            column="user_id",
            json_key="userId",
            params={"end": dag_run.run_after},
            s3_uri=uri,
        )
        return {"input_uri": uri, "output_uri": f"{folder}batch-output/"}

    @task
    def load_cache(
        output_uri: str, batch_job_arn: str, solution_version_arn: str, params: dict, dag_run=None
    ) -> dict:
        """Swap the batch output into the ``user_recommendations`` cache (atomic, recorded)."""
        from personalize_pipeline.cache import load_user_recommendations

        return load_user_recommendations(
            db_conn_id=DB_CONN_ID,
            aws_conn_id=AWS_CONN_ID,
            output_uri=output_uri,
            schema=params["cache_schema"],
            cache_name="user_recommendations",
            lineage={
                "dag_id": dag_run.dag_id,
                "run_id": dag_run.run_id,
                "batch_job_arn": batch_job_arn,
                "solution_version_arn": solution_version_arn,
            },
        ).as_dict()

    folder = run_folder()
    dataset_group = PersonalizeCreateDatasetGroupOperator(
        task_id="dataset_group",
        name=GROUP,
        aws_conn_id=AWS_CONN_ID,
        waiter_delay=POLL,
        deferrable=True,
    )
    exports, imports = [], []
    for spec in load_config().dataset_specs():
        with TaskGroup(group_id=spec.slug):
            exported = export_dataset.override(task_id="export")(spec.dataset_type, folder)
            exports.append(exported)
            schema = PersonalizeCreateSchemaOperator(
                task_id="schema",
                name=f"{GROUP}-{spec.slug}-v1",
                schema=spec.schema,
                aws_conn_id=AWS_CONN_ID,
            )
            dataset = PersonalizeCreateDatasetOperator(
                task_id="dataset",
                name=f"{GROUP}-{spec.slug}",
                dataset_group_arn=dataset_group.output,
                dataset_type=spec.dataset_type,
                schema_arn=schema.output,
                aws_conn_id=AWS_CONN_ID,
                waiter_delay=POLL,
                deferrable=True,
            )
            imports.append(
                PersonalizeCreateDatasetImportJobOperator(
                    task_id="import",
                    dataset_arn=dataset.output,
                    data_location=exported,
                    role_arn="{{ params.role_arn }}",
                    import_mode="FULL",
                    aws_conn_id=AWS_CONN_ID,
                    waiter_delay=POLL,
                    deferrable=True,
                )
            )

    solution = PersonalizeCreateSolutionOperator(
        task_id="solution",
        name=f"{GROUP}-user-personalization",
        dataset_group_arn=dataset_group.output,
        recipe_arn="{{ params.recipe_arn }}",
        aws_conn_id=AWS_CONN_ID,
        waiter_delay=POLL,
        deferrable=True,
    )
    version = PersonalizeCreateSolutionVersionOperator(
        task_id="train",
        solution_arn=solution.output,
        training_mode="FULL",
        aws_conn_id=AWS_CONN_ID,
        waiter_delay=POLL,
        deferrable=True,
    )
    # No import (a paid job) starts until every dataset has passed validation.
    cross_downstream(exports, imports)
    imports >> version
    batch_files = build_batch_input(folder)
    batch = PersonalizeCreateBatchInferenceJobOperator(
        task_id="batch_inference",
        solution_version_arn=version.output,
        input_path=batch_files["input_uri"],
        output_path=batch_files["output_uri"],
        role_arn="{{ params.role_arn }}",
        num_results="{{ params.num_results }}",
        aws_conn_id=AWS_CONN_ID,
        waiter_delay=POLL,
        deferrable=True,
    )
    load_cache(batch_files["output_uri"], batch.output, version.output)
