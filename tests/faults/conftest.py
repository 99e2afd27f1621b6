"""
Fixtures of the fault-injection suite: the suite's own restartable endpoint (Airflow's
aws_default points at it), a pipeline configured against it, no process left behind by a case,
and each case's outcome and time, printed at the end of the session as a table.
"""

from __future__ import annotations

import contextlib
import os
import time

import psutil
import pytest
import yaml
from fault_harness import BUCKET, EXPORTED_AT, GROUP, SCHEMA, SOLUTION, LocalEndpoint, dag, states

OUTCOMES: list[tuple[str, str, float]] = []  # (case, outcome, seconds)


@pytest.fixture(scope="session")
def endpoint(pipeline_env, tmp_path_factory):
    """The suite's own endpoint, started once; each case points Airflow at it (see ``pipeline``)."""
    own = LocalEndpoint(tmp_path_factory.mktemp("faults-aws"))
    own.start()
    own.client("s3").create_bucket(Bucket=BUCKET)
    yield own
    own.stop()


@pytest.fixture(scope="session")
def fault_config(pipeline_env) -> dict:
    """One solution with a batch job and cache; one export interval, a year long."""
    from devenv import datagen
    from personalize_pipeline.config import DEFAULT_PATH

    datagen.load(pipeline_env["database_url"], datagen.generate("tiny"))
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw.update(dataset_group=GROUP, start_date="2025-10-01", poll_seconds=1, cache_schema=SCHEMA)
    raw["s3"] = {"bucket": BUCKET, "prefix": GROUP}
    raw["schedules"]["export"] = "0 0 1 10 *"  # one interval: 2025-10-01 .. 2026-10-01
    raw["retries"] = {"count": 6, "delay_seconds": 2, "max_delay_minutes": 1}
    raw["event_sync"]["tracker_name"] = f"{GROUP}-events"
    raw["solutions"] = {SOLUTION: raw["solutions"][SOLUTION]}
    return raw


@contextlib.contextmanager
def _pointed_at(endpoint, raw: dict, pipelines_dir, folder):
    """Airflow's aws_default at the suite's endpoint and the pipeline's file in place, then back."""
    from devenv.airflow_env import set_connections

    previous = os.environ.get("AIRFLOW_CONN_AWS_DEFAULT")
    set_connections(db_url=None, aws_endpoint_url=endpoint.url)
    try:
        with pipelines_dir({"personalize": raw}, folder):
            yield
    finally:
        if previous is None:
            os.environ.pop("AIRFLOW_CONN_AWS_DEFAULT", None)
        else:
            os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = previous


@pytest.fixture(scope="session")
def exported(pipeline_env, endpoint, fault_config, pipelines_dir, tmp_path_factory):
    """The export interval written once, for every case that retrains."""
    with _pointed_at(endpoint, fault_config, pipelines_dir, tmp_path_factory.mktemp("faults-export")):
        run = dag("personalize_export").test(logical_date=EXPORTED_AT)
    assert str(run.state) == "success", states(run)


@pytest.fixture
def pipeline(pipeline_env, endpoint, fault_config, pipelines_dir, tmp_path):
    """For the case: Airflow pointed at the suite's endpoint and pipeline; the other tests' setup after."""
    with _pointed_at(endpoint, fault_config, pipelines_dir, tmp_path / "pipelines"):
        yield {**pipeline_env, "endpoint": endpoint}


@pytest.fixture
def no_orphans(endpoint):
    """After the case: no process this test process started is left but the ones it had before
    (the suite's endpoint, restarted, counts as the one it replaced)."""
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    yield
    left = [
        p
        for p in me.children(recursive=True)
        if p.pid not in before and p.pid != endpoint.proc.pid and p.is_running()
    ]
    left = [p for p in left if p.status() != psutil.STATUS_ZOMBIE]
    assert not left, [" ".join(p.cmdline()) for p in left]


@pytest.fixture
def outcome(request):
    """``outcome(text)`` records the case's result; the time is the test's own."""
    started = time.monotonic()
    said: list[str] = []
    yield said.append
    OUTCOMES.append((request.node.name, "; ".join(said) or "no outcome recorded", time.monotonic() - started))


def pytest_terminal_summary(terminalreporter):
    if OUTCOMES:
        terminalreporter.section("fault cases")
        for case, text, seconds in OUTCOMES:
            terminalreporter.write_line(f"{case} | {seconds:.0f} s | {text}")
