"""Every Personalize operator in one DAG, built twice: waiting deferred and waiting in the worker."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from interactions_chain import P, imported_interactions

from personalize_provider.operators.personalize import (
    PersonalizeCreateBatchInferenceJobOperator,
    PersonalizeCreateBatchSegmentJobOperator,
    PersonalizeCreateCampaignOperator,
    PersonalizeCreateEventTrackerOperator,
    PersonalizeCreateFilterOperator,
    PersonalizeCreateSolutionOperator,
    PersonalizeCreateSolutionVersionOperator,
)
from personalize_provider.operators.personalize_cleanup import PersonalizeCleanupSolutionVersionsOperator

RECIPE = "arn:aws:personalize:::recipe/"


def build(dag_id: str, deferrable: bool) -> DAG:
    wait = {"waiter_delay": 1, "deferrable": deferrable}
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        default_args={"retries": 0},
        params={
            "prefix": "",
            "interactions": "",
            "users_input": "",
            "items_input": "",
            "output": "",
            "role_arn": "arn:aws:iam::123456789012:role/provider-tests",
        },
    ) as dag:
        group, imported = imported_interactions(wait)
        users = PersonalizeCreateSolutionOperator(
            task_id="user_solution",
            name=f"{P}-users",
            dataset_group_arn=group.output,
            recipe_arn=RECIPE + "aws-user-personalization",
            **wait,
        )
        affinity = PersonalizeCreateSolutionOperator(
            task_id="affinity_solution",
            name=f"{P}-affinity",
            dataset_group_arn=group.output,
            recipe_arn=RECIPE + "aws-item-affinity",
            **wait,
        )
        users_version = PersonalizeCreateSolutionVersionOperator(
            task_id="train_users", solution_arn=users.output, **wait
        )
        affinity_version = PersonalizeCreateSolutionVersionOperator(
            task_id="train_affinity", solution_arn=affinity.output, **wait
        )
        imported >> [users_version, affinity_version]
        no_purchases = PersonalizeCreateFilterOperator(
            task_id="filter",
            name=f"{P}-no-purchases",
            dataset_group_arn=group.output,
            filter_expression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")',
            **wait,
        )
        PersonalizeCreateEventTrackerOperator(
            task_id="tracker", name=f"{P}-tracker", dataset_group_arn=group.output, **wait
        )
        campaign = PersonalizeCreateCampaignOperator(
            task_id="campaign", name=f"{P}-campaign", solution_version_arn=users_version.output, **wait
        )
        batch = PersonalizeCreateBatchInferenceJobOperator(
            task_id="batch_inference",
            solution_version_arn=users_version.output,
            input_path="{{ params.users_input }}",
            output_path="{{ params.output }}users/",
            role_arn="{{ params.role_arn }}",
            num_results=5,
            filter_arn=no_purchases.output,
            **wait,
        )
        segments = PersonalizeCreateBatchSegmentJobOperator(
            task_id="batch_segment",
            solution_version_arn=affinity_version.output,
            input_path="{{ params.items_input }}",
            output_path="{{ params.output }}segments/",
            role_arn="{{ params.role_arn }}",
            num_results=5,
            **wait,
        )
        [campaign, batch, segments] >> PersonalizeCleanupSolutionVersionsOperator(
            task_id="cleanup", solution_arn=users.output, keep_newest=1, dry_run=True
        )
    return dag


deferred_dag = build("provider_all_operators_deferred", deferrable=True)
worker_dag = build("provider_all_operators_in_worker", deferrable=False)
