"""Each operator runs inside dag.test() against the local service, deferred and in the worker."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from local_aws.testing import synthetic_interactions_csv

FIXTURES = Path(__file__).resolve().parents[1] / "dag_fixtures"


@pytest.mark.parametrize("dag_id", ["provider_all_operators_deferred", "provider_all_operators_in_worker"])
def test_every_operator_succeeds_and_produces_output(dag_id, pipeline_env, aws_clients):
    from airflow.dag_processing.dagbag import DagBag

    s3, personalize = aws_clients("s3"), aws_clients("personalize")
    bucket, prefix = pipeline_env["bucket"], f"all-{uuid.uuid4().hex[:8]}"
    s3.put_object(Bucket=bucket, Key=f"{prefix}/interactions.csv", Body=synthetic_interactions_csv().encode())
    s3.put_object(
        Bucket=bucket,
        Key=f"{prefix}/users.json",
        Body="\n".join(json.dumps({"userId": f"u{i}"}) for i in range(20)).encode(),
    )
    s3.put_object(
        Bucket=bucket,
        Key=f"{prefix}/items.json",
        Body="\n".join(json.dumps({"itemId": f"i{i}"}) for i in range(10)).encode(),
    )
    conf = {
        "prefix": prefix,
        "interactions": f"s3://{bucket}/{prefix}/interactions.csv",
        "users_input": f"s3://{bucket}/{prefix}/users.json",
        "items_input": f"s3://{bucket}/{prefix}/items.json",
        "output": f"s3://{bucket}/{prefix}/out/",
    }

    run = DagBag(dag_folder=str(FIXTURES)).get_dag(dag_id).test(run_conf=conf)

    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert set(states.values()) == {"success"}, states
    users_out = s3.get_object(Bucket=bucket, Key=f"{prefix}/out/users/users.json.out")["Body"].read().decode()
    lines = [json.loads(line) for line in users_out.splitlines()]
    assert len(lines) == 20 and all(len(line["output"]["recommendedItems"]) == 5 for line in lines)
    segments = (
        s3.get_object(Bucket=bucket, Key=f"{prefix}/out/segments/items.json.out")["Body"].read().decode()
    )
    segment_lines = [json.loads(line) for line in segments.splitlines()]
    assert len(segment_lines) == 10  # one per input item; all() alone would pass on an empty file
    assert all(len(line["output"]["recommendedUsers"]) == 5 for line in segment_lines)
    campaign = next(c for c in personalize.list_campaigns()["campaigns"] if c["name"] == f"{prefix}-campaign")
    assert campaign["status"] == "ACTIVE"
