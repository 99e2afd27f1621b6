"""The account quotas, at their default values, through boto3; and the pipeline's pools fill them exactly.

Resources are made on a normal endpoint, then its data is served by one whose statuses never move
(hour-long steps), so every job created there stays pending and counts against its quota.
"""

from __future__ import annotations

import boto3
import pytest
from conftest import ROLE, active_solution, imported_dataset, trained_version

from local_aws.personalize.quotas import Quotas
from local_aws.testing import DUMMY_CREDENTIALS, running_endpoint, synthetic_interactions_csv
from personalize_pipeline.pools import (
    BATCH_INFERENCE_POOL,
    BATCH_SEGMENT_POOL,
    IMPORT_POOL,
    POOLS,
    TRAINING_POOL,
)

QUOTA_OF_POOL = {
    IMPORT_POOL: Quotas().import_jobs,
    TRAINING_POOL: Quotas().trainings,
    BATCH_INFERENCE_POOL: Quotas().batch_inference_jobs,
    BATCH_SEGMENT_POOL: Quotas().batch_segment_jobs,
}


@pytest.fixture(scope="module")
def frozen_quotas(tmp_path_factory):
    """One group with data, a trained user-personalization and item-affinity version, and enough
    idle solutions to fill the training quota; then served frozen, at the default quotas."""
    data = tmp_path_factory.mktemp("quotas")
    with running_endpoint(data, step_seconds=0.05) as url:
        personalize = boto3.client("personalize", endpoint_url=url, **DUMMY_CREDENTIALS)
        s3 = boto3.client("s3", endpoint_url=url, **DUMMY_CREDENTIALS)
        group, dataset = imported_dataset(personalize, s3, "quotas", synthetic_interactions_csv())
        versions = {
            recipe: trained_version(
                personalize, active_solution(personalize, group, f"quotas-{recipe}", recipe)
            )
            for recipe in ("aws-user-personalization", "aws-item-affinity")
        }
        idle = [
            active_solution(personalize, group, f"quotas-idle-{n}", "aws-popularity-count")
            for n in range(Quotas().trainings + 1)
        ]
    with running_endpoint(data, step_seconds=3600) as url:
        yield {
            "personalize": boto3.client("personalize", endpoint_url=url, **DUMMY_CREDENTIALS),
            "dataset": dataset,
            "versions": versions,
            "idle": idle,
        }


def _batch_job(create, version: str):
    def start(n: int) -> None:
        create(
            jobName=f"quota-{version.rsplit('/', 1)[-1]}-{n}",
            solutionVersionArn=version,
            roleArn=ROLE,
            jobInput={"s3DataSource": {"path": "s3://quotas/in/"}},
            jobOutput={"s3DataDestination": {"path": "s3://quotas/out/"}},
        )

    return start


def _starter(env, pool: str):
    """A function that starts the n-th job of the kind the pool guards."""
    personalize = env["personalize"]
    if pool == IMPORT_POOL:
        return lambda n: personalize.create_dataset_import_job(
            jobName=f"quota-import-{n}",
            datasetArn=env["dataset"],
            roleArn=ROLE,
            dataSource={"dataLocation": "s3://quotas/interactions.csv"},
        )
    if pool == TRAINING_POOL:
        return lambda n: personalize.create_solution_version(solutionArn=env["idle"][n])
    if pool == BATCH_INFERENCE_POOL:
        return _batch_job(personalize.create_batch_inference_job, env["versions"]["aws-user-personalization"])
    return _batch_job(personalize.create_batch_segment_job, env["versions"]["aws-item-affinity"])


def test_no_pool_is_larger_than_its_quota():
    assert set(QUOTA_OF_POOL) == set(POOLS)
    for pool, (slots, _) in POOLS.items():
        assert slots <= QUOTA_OF_POOL[pool], pool


@pytest.mark.parametrize("pool", sorted(POOLS))
def test_a_full_pool_of_jobs_is_accepted_and_one_more_is_over_the_quota(frozen_quotas, pool):
    start, slots = _starter(frozen_quotas, pool), POOLS[pool][0]
    for n in range(slots):
        start(n)
    personalize = frozen_quotas["personalize"]
    with pytest.raises(personalize.exceptions.LimitExceededException):
        start(slots)


def test_a_sixth_active_dataset_group_is_over_the_quota(frozen_quotas):
    personalize = frozen_quotas["personalize"]
    existing = len(personalize.list_dataset_groups()["datasetGroups"])
    for n in range(Quotas().dataset_groups - existing):
        personalize.create_dataset_group(name=f"quota-group-{n}")
    with pytest.raises(personalize.exceptions.LimitExceededException, match="5 active dataset groups"):
        personalize.create_dataset_group(name="quota-group-one-too-many")
    assert len(personalize.list_dataset_groups()["datasetGroups"]) == 5
