"""A real local_aws endpoint (subprocess, real HTTP) shared by this test package."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from local_aws.testing import (
    DUMMY_CREDENTIALS,
    MANY_DATASET_GROUPS,
    SYNTHETIC_INTERACTIONS_SCHEMA,
    running_endpoint,
    wait_for,
)

ROLE = "arn:aws:iam::123456789012:role/personalize-test"
CREATE_CHAIN = ["CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE"]


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory):
    with running_endpoint(
        tmp_path_factory.mktemp("local_aws"), step_seconds=0.1, env=MANY_DATASET_GROUPS
    ) as url:
        yield url


@pytest.fixture(scope="session")
def clients(endpoint):
    def make(name):
        return boto3.client(name, endpoint_url=endpoint, **DUMMY_CREDENTIALS)

    return {name: make(name) for name in ("s3", "personalize", "personalize-runtime", "personalize-events")}


@pytest.fixture(scope="session")
def personalize(clients):
    return clients["personalize"]


@pytest.fixture(scope="session")
def bucket(clients):
    clients["s3"].create_bucket(Bucket="test-data")
    return "test-data"


INTERACTIONS_SCHEMA = json.dumps(SYNTHETIC_INTERACTIONS_SCHEMA)


@pytest.fixture(scope="session")
def interactions_schema(personalize):
    return personalize.create_schema(name="test-interactions", schema=INTERACTIONS_SCHEMA)["schemaArn"]


def create_dataset(personalize, schema_arn: str, name: str) -> tuple[str, str]:
    """An ACTIVE dataset group with an ACTIVE interactions dataset; returns both ARNs."""
    group = personalize.create_dataset_group(name=name)["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
    dataset = personalize.create_dataset(
        name=f"{name}-interactions",
        datasetGroupArn=group,
        schemaArn=schema_arn,
        datasetType="Interactions",
    )["datasetArn"]
    wait_for(lambda: personalize.describe_dataset(datasetArn=dataset)["dataset"])
    return group, dataset


def imported_dataset(personalize, s3, name: str, csv_text: str) -> tuple[str, str]:
    """As :func:`create_dataset`, with ``csv_text`` imported from a new bucket called ``name``."""
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="interactions.csv", Body=csv_text.encode())
    schema = personalize.create_schema(name=name, schema=INTERACTIONS_SCHEMA)["schemaArn"]
    group, dataset = create_dataset(personalize, schema, name)
    job = personalize.create_dataset_import_job(
        jobName=name,
        datasetArn=dataset,
        roleArn=ROLE,
        dataSource={"dataLocation": f"s3://{name}/interactions.csv"},
    )["datasetImportJobArn"]
    record, _ = wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]
    )
    assert record["status"] == "ACTIVE", record
    return group, dataset


def active_solution(
    personalize, group: str, name: str, recipe: str = "aws-user-personalization", **extra
) -> str:
    """An ACTIVE solution of ``recipe`` (no automatic training) in ``group``."""
    arn = personalize.create_solution(
        name=name,
        datasetGroupArn=group,
        recipeArn=f"arn:aws:personalize:::recipe/{recipe}",
        performAutoTraining=False,
        **extra,
    )["solutionArn"]
    wait_for(lambda: personalize.describe_solution(solutionArn=arn)["solution"])
    return arn


def trained_version(personalize, solution: str) -> str:
    """A new solution version of ``solution``, trained to ACTIVE."""
    arn = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    record, _ = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"]
    )
    assert record["status"] == "ACTIVE", record
    return arn


@pytest.fixture(scope="session")
def make_dataset(personalize, interactions_schema):
    """Factory: an ACTIVE dataset group with an ACTIVE interactions dataset; returns both ARNs."""
    return lambda name: create_dataset(personalize, interactions_schema, name)


def wait_gone(describe, not_found: type[Exception], timeout: float = 60.0) -> list[str]:
    """Poll ``describe()`` until the resource is gone; returns the distinct statuses seen meanwhile."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = describe()["status"]
        except not_found:
            return seen
        if status not in seen:
            seen.append(status)
        time.sleep(0.02)
    raise AssertionError(f"still there after {timeout}s, statuses seen: {seen}")


def walked(seen: list[str], chain: list[str]) -> bool:
    """``seen`` (polled statuses) follows ``chain`` in order and ends at its end.

    Polling may miss a short status on a busy machine; what a status does while it lasts is
    tested on the ``frozen`` endpoint, where no status ever changes on its own.
    """
    positions = [chain.index(status) for status in seen if status in chain]
    return len(positions) == len(seen) and positions == sorted(set(positions)) and seen[-1] == chain[-1]


@pytest.fixture(scope="session")
def frozen(tmp_path_factory):
    """An endpoint whose statuses never move (hour-long steps), over an ACTIVE group and dataset
    (and an empty ACTIVE group) made first on a normal endpoint sharing its data: what holds
    while a resource is pending or being deleted is tested here without racing the clock."""
    data = tmp_path_factory.mktemp("frozen")
    with running_endpoint(data, step_seconds=0.1) as url:
        personalize = boto3.client("personalize", endpoint_url=url, **DUMMY_CREDENTIALS)
        schema = personalize.create_schema(name="frozen-interactions", schema=INTERACTIONS_SCHEMA)[
            "schemaArn"
        ]
        group, dataset = create_dataset(personalize, schema, "frozen")
        empty = personalize.create_dataset_group(name="frozen-empty")["datasetGroupArn"]
        wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=empty)["datasetGroup"])
    with running_endpoint(data, step_seconds=3600) as url:
        personalize = boto3.client("personalize", endpoint_url=url, **DUMMY_CREDENTIALS)
        yield {
            "personalize": personalize,
            "schema": schema,
            "group": group,
            "dataset": dataset,
            "empty": empty,
        }


@pytest.fixture(scope="session")
def import_csv(personalize, clients, bucket):
    """Factory: upload CSV text and run an import job to its end; returns the job record."""

    def run(dataset_arn: str, job_name: str, csv_text: str, mode: str = "FULL") -> dict:
        key = f"imports/{job_name}/data.csv"
        clients["s3"].put_object(Bucket=bucket, Key=key, Body=csv_text.encode())
        job = personalize.create_dataset_import_job(
            jobName=job_name,
            datasetArn=dataset_arn,
            dataSource={"dataLocation": f"s3://{bucket}/{key}"},
            roleArn=ROLE,
            importMode=mode,
        )["datasetImportJobArn"]
        record, _ = wait_for(
            lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]
        )
        return record

    return run
