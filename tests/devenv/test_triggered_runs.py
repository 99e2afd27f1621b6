"""With a triggerer beside it, dag.test() lets independent deferred tasks wait at the same time."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import psutil
import pytest

from devenv.triggered_runs import deferred_tasks_left_to, running_triggerer

DAG_ID = "two_waits"
WAIT_SECONDS = 3
# Two independent tasks that each defer on a timer and return when they deferred and resumed
# (kept in an XCom: the inline trigger run does not pass the deferral's kwargs on).
DAG_FILE = textwrap.dedent(
    f'''
    import time
    from datetime import datetime, timedelta

    from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
    from airflow.sdk import DAG, BaseOperator


    class WaitOnce(BaseOperator):
        def execute(self, context):
            context["ti"].xcom_push("deferred_at", time.time())
            self.defer(
                trigger=TimeDeltaTrigger(timedelta(seconds={WAIT_SECONDS})),
                method_name="resumed",
            )

        def resumed(self, context, event=None):
            deferred_at = context["ti"].xcom_pull(task_ids=self.task_id, key="deferred_at")
            return [deferred_at, time.time()]


    with DAG("{DAG_ID}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
        WaitOnce(task_id="first")
        WaitOnce(task_id="second")
    '''
)


def _test_pipelines_folder() -> Path:
    bundles = json.loads(os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])
    return Path(next(b["kwargs"]["path"] for b in bundles if b["name"] == "test-pipelines"))


@pytest.fixture(scope="module")
def two_waits_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    path = _test_pipelines_folder() / f"{DAG_ID}.py"
    path.write_text(DAG_FILE)
    try:
        yield DagBag(dag_folder=str(path)).get_dag(DAG_ID)
    finally:
        path.unlink()


def _wait_intervals(run) -> dict[str, list[float]]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(XComModel.task_id, XComModel.value).where(
                XComModel.dag_id == DAG_ID, XComModel.run_id == run.run_id, XComModel.key == "return_value"
            )
        )
        return {task_id: json.loads(value) if isinstance(value, str) else value for task_id, value in rows}


def test_deferred_tasks_wait_together_and_the_triggerer_is_stopped(two_waits_dag, tmp_path):
    with running_triggerer(tmp_path / "triggerer.log") as triggerer:
        with deferred_tasks_left_to(triggerer):
            run = two_waits_dag.test()
        family = [triggerer.pid, *(p.pid for p in psutil.Process(triggerer.pid).children(recursive=True))]

    assert str(run.state) == "success", (tmp_path / "triggerer.log").read_text()[-3000:]
    intervals = _wait_intervals(run)
    assert sorted(intervals) == ["first", "second"]
    deferred_at, resumed_at = zip(*intervals.values(), strict=True)
    assert max(deferred_at) < min(resumed_at), intervals
    assert not [pid for pid in family if psutil.pid_exists(pid)], "the triggerer's processes outlived it"


def test_a_triggerer_that_exits_fails_the_run_instead_of_a_silent_wait(two_waits_dag, tmp_path):
    with running_triggerer(tmp_path / "triggerer.log") as triggerer:
        triggerer.kill()
        triggerer.wait()
        with deferred_tasks_left_to(triggerer), pytest.raises(RuntimeError, match="triggerer exited"):
            two_waits_dag.test()
