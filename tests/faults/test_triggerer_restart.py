"""
The triggerer SIGKILLed while tasks are deferred, on a real Airflow: metadata in PostgreSQL, a
scheduler with the LocalExecutor, the API server, the DAG processor and a triggerer, each a
process (dag.test() runs triggers in its own process, so it cannot lose a triggerer). A small DAG
(``triggerer_dag.py``: import -> training -> batch job, each deferred) runs against an
endpoint whose jobs stay in flight for seconds; while each paid job's task is deferred with its
trigger running, the triggerer is killed and a new one started. The run must succeed with one
paid job per step, and nothing may be left running afterwards.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil
import pytest
from airflow_cluster import AirflowCluster
from fault_harness import BUCKET, LocalEndpoint, wait_until

from local_aws.testing import synthetic_interactions_csv

pytestmark = pytest.mark.e2e

DAG_ID = "faults_triggerer"
STEPS = ("import", "train", "batch")  # the paid jobs' tasks, in run order
# Every job stays PENDING and then IN_PROGRESS this long: the kill lands while one is in flight.
STEP_SECONDS = 5.0
ASSIGNED = (
    "SELECT t.triggerer_id FROM task_instance ti JOIN trigger t ON t.id = ti.trigger_id "
    "WHERE ti.dag_id = %s AND ti.task_id = %s AND ti.state = 'deferred' AND t.triggerer_id IS NOT NULL"
)


def _inputs(endpoint: LocalEndpoint) -> dict:
    s3 = endpoint.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="triggerer/interactions.csv", Body=synthetic_interactions_csv().encode())
    users = "\n".join(json.dumps({"userId": f"u{i}"}) for i in range(20))
    s3.put_object(Bucket=BUCKET, Key="triggerer/users.json", Body=users.encode())
    return {
        "prefix": "triggerer",
        "interactions": f"s3://{BUCKET}/triggerer/interactions.csv",
        "users_input": f"s3://{BUCKET}/triggerer/users.json",
        "output": f"s3://{BUCKET}/triggerer/out/",
    }


def _paid_jobs(endpoint: LocalEndpoint) -> dict[str, list[str]]:
    personalize = endpoint.client("personalize")
    listings = {
        "import": ("list_dataset_import_jobs", "datasetImportJobs"),
        "train": ("list_solution_versions", "solutionVersions"),
        "batch": ("list_batch_inference_jobs", "batchInferenceJobs"),
    }
    return {
        step: [job["status"] for job in getattr(personalize, operation)()[key]]
        for step, (operation, key) in listings.items()
    }


def test_triggerer_killed_while_tasks_are_deferred(pipeline_env, tmp_path, outcome, no_orphans):
    endpoint = LocalEndpoint(tmp_path / "aws", step_seconds=STEP_SECONDS)
    endpoint.start()
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_text((Path(__file__).parent / "triggerer_dag.py").read_text())
    cluster = AirflowCluster(tmp_path / "airflow", dags, pipeline_env["database_url"], endpoint.url)
    struck, runners_left, state, tries, endpoint_jobs = [], [], "not finished", [], {}
    try:
        started = time.monotonic()
        cluster.start()
        cluster.trigger(DAG_ID, _inputs(endpoint))
        for step in STEPS:
            wait_until(lambda step=step: cluster.query(ASSIGNED, DAG_ID, step), timeout=300, interval=0.2)
            runners = psutil.Process(cluster.processes["triggerer"].pid).children(recursive=True)
            cluster.kill("triggerer")
            struck.append(f"{step} at {time.monotonic() - started:.0f} s")
            cluster.start_component("triggerer")
            _, alive = psutil.wait_procs(runners, timeout=30)  # the dead triggerer's trigger runner
            runners_left += [" ".join(p.cmdline()) for p in alive]
            for process in alive:  # named by the assertion below; not left behind
                process.kill()
        state = cluster.wait_for_run(DAG_ID, timeout=300)
        tries = cluster.query(
            "SELECT task_id, try_number, state FROM task_instance WHERE dag_id = %s", DAG_ID
        )
    finally:
        cluster.stop()
        endpoint_jobs = _paid_jobs(endpoint)
        endpoint.stop()
        outcome(
            f"run {state}; triggerer killed during {', '.join(struck) or 'nothing'}; paid jobs "
            f"{endpoint_jobs}; tries {sorted((t, n) for t, n, _ in tries if n > 1) or 'one each'}"
        )
    assert state == "success", (tries, cluster.log_tail("triggerer"), cluster.log_tail("scheduler"))
    assert endpoint_jobs == {step: ["ACTIVE"] for step in STEPS}
    assert not runners_left, runners_left
    assert cluster.port_free()
