"""State survives a restart; work cut short by it fails cleanly."""

from __future__ import annotations

import boto3

from local_aws.testing import DUMMY_CREDENTIALS, running_endpoint, wait_for

ROLE = "arn:aws:iam::123456789012:role/personalize-test"
SCHEMA = (
    '{"type": "record", "name": "I", "fields": [{"name": "USER_ID", "type": "string"}, '
    '{"name": "ITEM_ID", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}]}'
)


def test_restart_keeps_resources_and_fails_interrupted_jobs(tmp_path):
    with running_endpoint(tmp_path, step_seconds=0.1) as url:
        p = boto3.client("personalize", endpoint_url=url, **DUMMY_CREDENTIALS)
        group = p.create_dataset_group(name="durable")["datasetGroupArn"]
        wait_for(lambda: p.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
        schema = p.create_schema(name="durable", schema=SCHEMA)["schemaArn"]
        dataset = p.create_dataset(
            name="durable", datasetGroupArn=group, schemaArn=schema, datasetType="INTERACTIONS"
        )["datasetArn"]
        wait_for(lambda: p.describe_dataset(datasetArn=dataset)["dataset"])

    with running_endpoint(tmp_path, step_seconds=30) as url:  # slow steps: the job stays pending
        p = boto3.client("personalize", endpoint_url=url, **DUMMY_CREDENTIALS)
        job = p.create_dataset_import_job(
            jobName="cut-short", datasetArn=dataset, roleArn=ROLE, dataSource={"dataLocation": "s3://b/x.csv"}
        )["datasetImportJobArn"]
        assert (
            p.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]["status"]
            == "CREATE PENDING"
        )

    with running_endpoint(tmp_path, step_seconds=0.1) as url:
        p = boto3.client("personalize", endpoint_url=url, **DUMMY_CREDENTIALS)
        assert p.describe_dataset_group(datasetGroupArn=group)["datasetGroup"]["status"] == "ACTIVE"
        assert p.describe_schema(schemaArn=schema)["schema"]["name"] == "durable"
        record = p.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]
        assert record["status"] == "CREATE FAILED"
        assert record["failureReason"] == "Interrupted by a service restart."
