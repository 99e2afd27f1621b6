"""A real local_aws endpoint (subprocess, real HTTP) shared by this test package."""

from __future__ import annotations

import json

import boto3
import pytest

from local_aws.testing import DUMMY_CREDENTIALS, SYNTHETIC_INTERACTIONS_SCHEMA, running_endpoint, wait_for

ROLE = "arn:aws:iam::123456789012:role/personalize-test"


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory):
    with running_endpoint(tmp_path_factory.mktemp("local_aws"), step_seconds=0.1) as url:
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


@pytest.fixture(scope="session")
def make_dataset(personalize, interactions_schema):
    """Factory: an ACTIVE dataset group with an ACTIVE interactions dataset; returns both ARNs."""

    def make(name: str) -> tuple[str, str]:
        group = personalize.create_dataset_group(name=name)["datasetGroupArn"]
        wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
        dataset = personalize.create_dataset(
            name=f"{name}-interactions",
            datasetGroupArn=group,
            schemaArn=interactions_schema,
            datasetType="Interactions",
        )["datasetArn"]
        wait_for(lambda: personalize.describe_dataset(datasetArn=dataset)["dataset"])
        return group, dataset

    return make


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
