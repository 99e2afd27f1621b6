"""Import -> training -> batch job, each waiting deferred: the triggerer fault case's DAG."""

from datetime import timedelta

import pendulum
from airflow.sdk import DAG
from interactions_chain import P, imported_interactions  # tests/dag_fixtures, on the cluster's PYTHONPATH

from personalize_provider.operators.personalize import (
    PersonalizeCreateBatchInferenceJobOperator,
    PersonalizeCreateSolutionOperator,
    PersonalizeCreateSolutionVersionOperator,
)

WAIT = {"waiter_delay": 1, "deferrable": True}

with DAG(
    dag_id="faults_triggerer",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    default_args={"retries": 3, "retry_delay": timedelta(seconds=2)},
    params={"prefix": "", "interactions": "", "users_input": "", "output": ""},
):
    group, imported = imported_interactions(WAIT)
    solution = PersonalizeCreateSolutionOperator(
        task_id="solution",
        name=P,
        dataset_group_arn=group.output,
        recipe_arn="arn:aws:personalize:::recipe/aws-user-personalization",
        **WAIT,
    )
    version = PersonalizeCreateSolutionVersionOperator(task_id="train", solution_arn=solution.output, **WAIT)
    imported >> version
    PersonalizeCreateBatchInferenceJobOperator(
        task_id="batch",
        solution_version_arn=version.output,
        input_path="{{ params.users_input }}",
        output_path="{{ params.output }}",
        role_arn="arn:aws:iam::123456789012:role/faults",
        num_results=5,
        **WAIT,
    )
