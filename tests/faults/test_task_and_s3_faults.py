"""
Faults around one task: the worker process SIGKILLed right after its create call reached the
service (the retry must adopt that job, never start a second paid one), and S3 answering 500
InternalError / 503 SlowDown for a while (botocore's retries, then the task's, ride it out).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

import psutil
import pytest
from fault_harness import (
    BUCKET,
    EXPORTED_AT,
    GROUP,
    REPO_ROOT,
    SOLUTION,
    FaultyS3Proxy,
    dag,
    states,
    wait_until,
)

pytestmark = pytest.mark.e2e

# A retraining run of its own. Its run_after is fixed too, so the rerun is the same run (same run
# id, so the same task instances and job names), as Airflow's retry of the killed task would be.
KILLED_RUN_AT = datetime(2026, 11, 1, tzinfo=UTC)
FAST = {"poll_seconds": 1, "solutions": [SOLUTION]}
RUN_IN_CHILD = """
import sys
from datetime import datetime
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
when = datetime.fromisoformat(sys.argv[2])
bag.get_dag("personalize_retrain_full").test(
    logical_date=when, run_after=when, run_conf={"poll_seconds": 1, "solutions": [sys.argv[3]]}
)
"""


def _versions(personalize) -> dict[str, str]:
    """The solution's versions (the run also trains the popularity baseline, a solution of its own)."""
    pages = personalize.get_paginator("list_solution_versions").paginate()
    return {
        v["solutionVersionArn"]: v["status"]
        for v in pages.build_full_result()["solutionVersions"]
        if f"/{GROUP}-{SOLUTION}/" in v["solutionVersionArn"]
    }


def _import_jobs(personalize) -> set[str]:
    pages = personalize.get_paginator("list_dataset_import_jobs").paginate()
    return {j["datasetImportJobArn"] for j in pages.build_full_result()["datasetImportJobs"]}


def test_a_task_killed_right_after_its_create_call_is_adopted_by_the_retry(
    exported, pipeline, endpoint, outcome, no_orphans
):
    personalize = endpoint.client("personalize")
    versions_before, imports_before = _versions(personalize), _import_jobs(personalize)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / p) for p in ("", "plugins", "dags")),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", RUN_IN_CHILD, str(REPO_ROOT / "dags"), KILLED_RUN_AT.isoformat(), SOLUTION],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        created = wait_until(
            lambda: set(_versions(personalize)) - set(versions_before), timeout=300, interval=0.1
        )
        descendants = psutil.Process(child.pid).children(recursive=True)
        child.send_signal(signal.SIGKILL)  # the worker dies with the create call answered
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    status_at_kill = _versions(personalize)[next(iter(created))]
    assert not [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

    run = dag("personalize_retrain_full").test(
        logical_date=KILLED_RUN_AT, run_after=KILLED_RUN_AT, run_conf=FAST
    )
    assert str(run.state) == "success", {k: v for k, v in states(run).items() if v != "success"}
    trained = run.get_task_instance(f"{SOLUTION}.train").xcom_pull(task_ids=f"{SOLUTION}.train")
    new_versions = {arn: s for arn, s in _versions(personalize).items() if arn not in versions_before}
    new_imports = _import_jobs(personalize) - imports_before
    outcome(
        f"killed with version {status_at_kill}; retry adopted it: {len(new_versions)} new version(s) "
        f"{sorted(new_versions.values())}, {len(new_imports)} new import job(s)"
    )
    assert set(created) == {trained}  # the version the killed attempt started is the one the run used
    assert new_versions == {trained: "ACTIVE"}  # exactly one paid training
    assert len(new_imports) == 3  # interactions, items, users: one job each, adopted by the rerun


def test_s3_answering_500_and_slowdown_for_a_while(exported, pipeline, endpoint, outcome, no_orphans):
    from devenv.airflow_env import set_connections

    s3 = endpoint.client("s3")
    key = f"{GROUP}/datasets/interactions/2025-10-01T0000.csv"
    before = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3.delete_object(Bucket=BUCKET, Key=key)
    faults = 12  # more than one request's botocore retries: at least one task retry too
    with FaultyS3Proxy(endpoint, faults) as proxy:
        set_connections(db_url=None, aws_endpoint_url=proxy.url)
        try:
            run = dag("personalize_export").test(logical_date=EXPORTED_AT)
        finally:
            set_connections(db_url=None, aws_endpoint_url=endpoint.url)
    tries = {ti.task_id: ti.try_number for ti in run.get_task_instances()}
    outcome(f"{proxy.served} injected 500/503 answers; run {run.state}; task tries {tries}")
    assert str(run.state) == "success", states(run)
    assert proxy.served == faults
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == before  # the same file, whole
