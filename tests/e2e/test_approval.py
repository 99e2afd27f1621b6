"""
Human approval of a candidate, answered through Airflow's public REST API while the run waits.

dag.test() runs the FULL retraining in a thread; from Airflow 3.3 it keeps a run alive while a
human-in-the-loop task is parked in ``awaiting_input``. The test answers as a person would: a PATCH
on ``/api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/-1/hitlDetails`` of Airflow's own
FastAPI app (the api-server's code path: authentication, validation, resuming the task), sharing
the metadata database with the run. The timeout is the scheduler's own sweep of parked tasks.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest
import yaml

pytestmark = pytest.mark.e2e

GROUP = "approval-e2e"
PREFIX = "e2e-approval"
SOLUTION = "user-personalization"
TASK = f"{SOLUTION}.approval"
DAG_ID = "personalize_retrain_full"
# Three months exported: on one month of the demo data, the local service's default ALS loses to
# popularity-count, and the baseline (rightly) refuses it before any human is asked.
MONTHS = [datetime(2026, m, 1, tzinfo=UTC) for m in (9, 10, 11)]  # export runs: Aug, Sep, Oct
EXPORTED = MONTHS[-1]
FAST = {"poll_seconds": 1}


@pytest.fixture(scope="module")
def pipeline(pipeline_env, tmp_path_factory, pipelines_dir):
    """One per-user solution, approval of borderline candidates, August to October exported."""
    from devenv import datagen
    from personalize_pipeline.config import DEFAULT_PATH

    datagen.load(pipeline_env["database_url"], datagen.generate("demo"))
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw.update(dataset_group=GROUP, start_date="2026-08-01", poll_seconds=1)
    raw["s3"] = {"bucket": pipeline_env["bucket"], "prefix": PREFIX}
    raw["retries"] = {"count": 1, "delay_seconds": 1, "max_delay_minutes": 1}
    raw["event_sync"]["tracker_name"] = f"{GROUP}-events"
    raw["solutions"] = {SOLUTION: raw["solutions"][SOLUTION]}
    raw["quality_gate"]["approval"] = "borderline"
    folder = tmp_path_factory.mktemp("approval-config")
    with pipelines_dir({"personalize": raw}, folder):
        export = _dag("personalize_export")
        assert [str(export.test(logical_date=month).state) for month in MONTHS] == ["success"] * 3
        yield {**pipeline_env, "raw": raw, "folder": folder, "pipelines_dir": pipelines_dir}


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag(dag_id)


@pytest.fixture(scope="module")
def api():
    """Airflow's public REST API in-process, signed in as the reviewer."""
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    app = create_app(apps="core")
    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="reviewer", role="admin"))
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


class _Reviewer:
    """Answers from a thread while dag.test() runs the DAG in the main one (tasks set signal handlers)."""

    def __init__(self, logical_date: datetime, act):
        self.logical_date = logical_date
        self.results: list = []
        self.thread = threading.Thread(target=lambda: self.results.append(act()), daemon=True)

    def run(self, conf: dict):
        self.thread.start()
        run = _dag(DAG_ID).test(logical_date=self.logical_date, run_conf=conf)
        self.thread.join(timeout=60)
        assert self.results, "the reviewer never answered"
        return run, self.results[0]


def _waiting_request(api) -> dict:
    """The open approval request of the DAG, once its task is parked (after training and the gate)."""
    for _ in range(600):
        response = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/~/hitlDetails")
        assert response.status_code == 200, response.text
        waiting = [
            d for d in response.json()["hitl_details"] if d["task_instance"]["state"] == "awaiting_input"
        ]
        if waiting:
            (request,) = waiting
            assert request["task_instance"]["task_id"] == TASK
            return request
        time.sleep(0.5)
    raise AssertionError("no approval request")


def _answer(api, option: str) -> tuple[dict, dict]:
    """Waits for the request, then answers it as the signed-in reviewer: (request, response)."""
    request = _waiting_request(api)
    run_id = request["task_instance"]["dag_run_id"]
    response = api.patch(
        f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK}/-1/hitlDetails",
        json={"chosen_options": [option]},
    )
    assert response.status_code == 200, response.text
    return request, response.json()


def _decision(url: str, run_id: str) -> tuple[str, list[str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT decision, reasons FROM personalize_cache.solution_metrics "
            "WHERE solution = %s AND run_id = %s",
            (SOLUTION, run_id),
        ).fetchone()


def _live_load(url: str) -> tuple | None:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT run_id FROM personalize_cache.cache_loads "
            "WHERE cache_name = 'user_recommendations' AND status = 'live'"
        ).fetchone()


def _batch_jobs(aws_clients) -> set[str]:
    jobs = aws_clients("personalize").list_batch_inference_jobs(maxResults=100)["batchInferenceJobs"]
    return {j["batchInferenceJobArn"] for j in jobs}


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances() if ti.map_index < 0}


@pytest.fixture(scope="module")
def approved(pipeline, api):
    """The first version is borderline (nothing live): it waits, a reviewer approves it."""
    return _Reviewer(EXPORTED, lambda: _answer(api, "Approve")).run(FAST)


def test_first_version_waits_with_the_numbers_and_approval_promotes_it(approved, pipeline):
    run, (request, response) = approved
    states = _states(run)
    assert str(run.state) == "success", {k: v for k, v in states.items() if v != "success"}
    assert request["options"] == ["Approve", "Reject"] and request["defaults"] == ["Reject"]
    body = request["body"]
    for label in ("metric | ndcg@10", "candidate |", "live version | none", "popularity baseline |", "2%"):
        assert label in body
    assert response["responded_by"]["name"] == "reviewer"
    decision, reasons = _decision(pipeline["database_url"], run.run_id)
    assert decision == "promoted"
    assert reasons[-1] == "approved by reviewer"
    assert any("beats the popularity baseline" in r for r in reasons)
    assert states[f"{SOLUTION}.load_cache"] == "success"
    assert _live_load(pipeline["database_url"]) == (run.run_id,)


def _always(pipeline, hours: float) -> None:
    """Every candidate waits; ``hours`` until the request times out (the DAG is rebuilt from the file)."""
    raw = {**pipeline["raw"]}
    raw["quality_gate"] = {**raw["quality_gate"], "approval": "always", "approval_timeout_hours": hours}
    (pipeline["folder"] / "personalize.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


def test_rejection_promotes_nothing_and_starts_nothing_paid(approved, pipeline, api, aws_clients):
    _always(pipeline, 24)
    live_before, jobs_before = _live_load(pipeline["database_url"]), _batch_jobs(aws_clients)
    reviewer = _Reviewer(datetime(2026, 11, 2, tzinfo=UTC), lambda: _answer(api, "Reject"))
    result, (request, _) = reviewer.run(FAST)
    assert request["task_instance"]["dag_run_id"] == result.run_id
    states = _states(result)
    assert str(result.state) == "success"
    assert states[f"{SOLUTION}.promoted"] == "skipped"
    assert states[f"{SOLUTION}.batch_inference"] == "skipped"
    assert _batch_jobs(aws_clients) == jobs_before
    assert _live_load(pipeline["database_url"]) == live_before
    decision, reasons = _decision(pipeline["database_url"], result.run_id)
    assert (decision, reasons[-1]) == ("rejected", "rejected by reviewer")


def test_no_answer_before_the_timeout_rejects(approved, pipeline, api, aws_clients):
    """The scheduler's sweep of timed-out requests answers the default, Reject."""
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    _always(pipeline, 0.001)  # 3.6 s
    live_before, jobs_before = _live_load(pipeline["database_url"]), _batch_jobs(aws_clients)

    def sweep_after_the_deadline() -> None:
        _waiting_request(api)
        time.sleep(4)
        SchedulerJobRunner(job=Job()).check_awaiting_input_timeouts()

    result, _ = _Reviewer(datetime(2026, 11, 3, tzinfo=UTC), sweep_after_the_deadline).run(FAST)
    assert str(result.state) == "success"
    assert _states(result)[f"{SOLUTION}.batch_inference"] == "skipped"
    assert _batch_jobs(aws_clients) == jobs_before
    assert _live_load(pipeline["database_url"]) == live_before
    decision, reasons = _decision(pipeline["database_url"], result.run_id)
    assert (decision, reasons[-1]) == ("rejected", "no answer within 0.001 h: not promoted (timeout)")
