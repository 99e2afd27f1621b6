"""Provider tests: deploy a campaign and sense it, both deferred, so triggers and resumes run for real."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from personalize_provider.operators.personalize import PersonalizeCreateCampaignOperator
from personalize_provider.sensors.personalize import PersonalizeCampaignSensor

with DAG(
    dag_id="provider_campaign_deferred",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    default_args={"retries": 0},
    params={"name": "", "solution_version_arn": ""},
):
    deploy = PersonalizeCreateCampaignOperator(
        task_id="deploy",
        name="{{ params.name }}",
        solution_version_arn="{{ params.solution_version_arn }}",
        waiter_delay=1,
        deferrable=True,
    )
    deploy >> PersonalizeCampaignSensor(
        task_id="sense",
        resource_arn="{{ ti.xcom_pull(task_ids='deploy') }}",
        poke_interval=1,
        deferrable=True,
    )
