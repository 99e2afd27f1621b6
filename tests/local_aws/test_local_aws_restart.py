"""State survives a restart, and work a restart cut short finishes afterwards, under the same ARN.

The real service keeps running while clients come and go, so a job created before the local
endpoint stopped (or was SIGKILLed) must still end ACTIVE, not fail or start over under a new ARN.
S3 is served by a separate endpoint that is not restarted, as AWS's S3 would be.
"""

from __future__ import annotations

import json
import signal
import time

import boto3
import pytest
from conftest import ROLE, active_solution, imported_dataset

from local_aws.testing import (
    DUMMY_CREDENTIALS,
    endpoint_process,
    running_endpoint,
    synthetic_interactions_csv,
    wait_for,
)

SCHEMA = (
    '{"type": "record", "name": "I", "fields": [{"name": "USER_ID", "type": "string"}, '
    '{"name": "ITEM_ID", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}]}'
)
DATA = "\n".join(
    ["USER_ID,ITEM_ID,TIMESTAMP"] + [f"u{i % 40},i{i % 97},{1_700_000_000 + i}" for i in range(1200)]
)


@pytest.fixture(scope="module")
def s3_url(tmp_path_factory):
    with running_endpoint(tmp_path_factory.mktemp("s3")) as url:
        yield url


def clients(url: str, s3_url: str):
    return (
        boto3.client("personalize", endpoint_url=url, **DUMMY_CREDENTIALS),
        boto3.client("s3", endpoint_url=s3_url, **DUMMY_CREDENTIALS),
    )


def test_restart_keeps_resources_and_resumes_interrupted_jobs(tmp_path, s3_url):
    s3_env = {"LOCAL_AWS_S3_ENDPOINT_URL": s3_url}
    with running_endpoint(tmp_path, step_seconds=0.1, env=s3_env) as url:
        p, s3 = clients(url, s3_url)
        s3.create_bucket(Bucket="restart-data")
        s3.put_object(Bucket="restart-data", Key="x.csv", Body=DATA.encode())
        group = p.create_dataset_group(name="durable")["datasetGroupArn"]
        wait_for(lambda: p.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
        schema = p.create_schema(name="durable", schema=SCHEMA)["schemaArn"]
        dataset = p.create_dataset(
            name="durable", datasetGroupArn=group, schemaArn=schema, datasetType="INTERACTIONS"
        )["datasetArn"]
        wait_for(lambda: p.describe_dataset(datasetArn=dataset)["dataset"])

    with running_endpoint(tmp_path, step_seconds=30, env=s3_env) as url:  # slow steps: the job stays pending
        p, _ = clients(url, s3_url)
        job = p.create_dataset_import_job(
            jobName="cut-short",
            datasetArn=dataset,
            roleArn=ROLE,
            dataSource={"dataLocation": "s3://restart-data/x.csv"},
        )["datasetImportJobArn"]
        assert (
            p.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]["status"]
            == "CREATE PENDING"
        )

    with running_endpoint(tmp_path, step_seconds=0.1, env=s3_env) as url:
        p, _ = clients(url, s3_url)
        assert p.describe_dataset_group(datasetGroupArn=group)["datasetGroup"]["status"] == "ACTIVE"
        assert p.describe_schema(schemaArn=schema)["schema"]["name"] == "durable"
        record, _ = wait_for(
            lambda: p.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]
        )
        assert record["status"] == "ACTIVE", record
        assert [j["datasetImportJobArn"] for j in p.list_dataset_import_jobs()["datasetImportJobs"]] == [job]


def _status_on_disk(data_dir, kind: str, arn: str) -> str:
    return json.loads((data_dir / "state.json").read_text())[kind][arn]["status"]


def _kill_when_in_progress(proc, data_dir, kind: str, arn: str, describe, after: float) -> None:
    """SIGKILL the endpoint ``after`` seconds into ``arn``'s IN_PROGRESS status; it must still be in
    progress on disk, so the kill did cut the job short."""
    deadline = time.monotonic() + 60
    while describe()["status"] not in ("CREATE IN_PROGRESS", "IN PROGRESS"):
        assert time.monotonic() < deadline and describe()["status"] not in ("ACTIVE", "CREATE FAILED")
        time.sleep(0.02)
    time.sleep(after)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert _status_on_disk(data_dir, kind, arn) in ("CREATE IN_PROGRESS", "IN PROGRESS")


def _version(p, arn: str) -> dict:
    return p.describe_solution_version(solutionVersionArn=arn)["solutionVersion"]


def _batch(p, arn: str) -> dict:
    return p.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"]


def test_a_sigkilled_training_and_batch_job_finish_after_a_restart_under_the_same_arn(tmp_path, s3_url):
    s3_env = {"LOCAL_AWS_S3_ENDPOINT_URL": s3_url}
    step = 0.5
    slow_training = {"LOCAL_PERSONALIZE_TRAIN_THREADS": "1"}
    with endpoint_process(tmp_path, step_seconds=step, env={**s3_env, **slow_training}) as (url, proc):
        p, s3 = clients(url, s3_url)
        csv = synthetic_interactions_csv(n_users=600, n_items=400, per_user=20)
        group, _ = imported_dataset(p, s3, "killed", csv)
        s3.put_object(Bucket="killed", Key="users/q.json", Body=b'{"userId": "u1"}\n{"userId": "u2"}\n')
        hyper = {"hidden_dimension": "64", "als_iterations": "50"}
        solution = active_solution(p, group, "killed", solutionConfig={"algorithmHyperParameters": hyper})
        version = p.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        # past the step's pause, inside the training itself
        _kill_when_in_progress(
            proc, tmp_path, "solution-version", version, lambda: _version(p, version), step + 0.5
        )

    with endpoint_process(tmp_path, step_seconds=step, env=s3_env) as (url, proc):
        p, s3 = clients(url, s3_url)
        record, _ = wait_for(lambda: _version(p, version), timeout=120)
        assert record["status"] == "ACTIVE", record
        assert [
            v["solutionVersionArn"]
            for v in p.list_solution_versions(solutionArn=solution)["solutionVersions"]
        ] == [version]
        batch = p.create_batch_inference_job(
            jobName="killed",
            solutionVersionArn=version,
            roleArn=ROLE,
            jobInput={"s3DataSource": {"path": "s3://killed/users/"}},
            jobOutput={"s3DataDestination": {"path": "s3://killed/out/"}},
        )["batchInferenceJobArn"]
        _kill_when_in_progress(
            proc, tmp_path, "batch-inference-job", batch, lambda: _batch(p, batch), step / 2
        )

    with running_endpoint(tmp_path, step_seconds=step, env=s3_env) as url:
        p, s3 = clients(url, s3_url)
        record, _ = wait_for(lambda: _batch(p, batch), timeout=60)
        assert record["status"] == "ACTIVE", record
        lines = s3.get_object(Bucket="killed", Key="out/q.json.out")["Body"].read().decode().splitlines()
        assert [json.loads(line)["input"]["userId"] for line in lines] == ["u1", "u2"]
