"""
``dag.test()`` runs whose deferred tasks wait together, in a real ``airflow triggerer``.

``dag.test()`` runs each deferred task's trigger inline, in its own process: every wait on the
local Personalize service (trainings, batch jobs, quick creates) then happens one after another.
Here a triggerer process sharing the metadata database and environment runs the triggers, and
``dag.test()`` leaves deferred tasks DEFERRED: its loop already re-reads the task instances each
second and resumes those the triggerer marks SCHEDULED. Independent waits then overlap.

The triggerer needs no API server: it serves its trigger runner's calls with an in-process
execution API, and connections come from ``AIRFLOW_CONN_*`` (first in the workers' search path).

Written against Airflow 3.3.2 (``airflow.sdk.definitions.dag``: ``_run_task`` with the
``run_triggerer`` flag, and the module logger's "No tasks to run" warning in ``DAG.test``).
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import psutil

from devenv.airflow_services import TRIGGERER
from devenv.process_tree import stop_tree

STOP_GRACE_SECONDS = 30.0
_IDLE_WARNING = "No tasks to run"


@contextlib.contextmanager
def running_triggerer(log_file: Path) -> Iterator[subprocess.Popen]:
    """An ``airflow triggerer`` (no log server, so nothing listens) until the block ends."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        triggerer = subprocess.Popen(
            TRIGGERER,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield triggerer
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            stop_tree(psutil.Process(triggerer.pid), STOP_GRACE_SECONDS)
        triggerer.wait()


@contextlib.contextmanager
def deferred_tasks_left_to(triggerer: subprocess.Popen) -> Iterator[None]:
    """Within this block ``dag.test()`` leaves deferred tasks to ``triggerer``.

    Its once-a-second "No tasks to run" warnings (the normal state while tasks wait) are dropped;
    should the triggerer exit, the next one raises instead, so the run fails rather than waits.
    """
    from airflow.sdk.definitions import dag as dag_module

    run_task = getattr(dag_module, "_run_task", None)
    if run_task is None:
        raise RuntimeError("airflow.sdk.definitions.dag._run_task is gone: update devenv.triggered_runs")

    def run_task_leaving_deferred(*, ti, task, run_triggerer=False):
        result = run_task(ti=ti, task=task, run_triggerer=False)
        _resume_if_event_overwritten(ti)
        return result

    idle_filter = _TriggererWatch(triggerer)
    dag_module.log.addFilter(idle_filter)
    try:
        with mock.patch.object(dag_module, "_run_task", run_task_leaving_deferred):
            yield
    finally:
        dag_module.log.removeFilter(idle_filter)


class _TriggererWatch(logging.Filter):
    """Drops dag.test()'s idle warning while the triggerer runs; raises once it has exited."""

    def __init__(self, triggerer: subprocess.Popen):
        super().__init__()
        self.triggerer = triggerer

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(_IDLE_WARNING):
            return True
        if self.triggerer.poll() is not None:
            code = self.triggerer.returncode
            raise RuntimeError(f"The triggerer exited ({code}); deferred tasks would wait for ever")
        return False


def _resume_if_event_overwritten(ti) -> None:
    """Undo the one race of leaving deferral to a triggerer.

    After the task defers, ``_run_task`` writes the state DEFERRED once more. Should the trigger
    have fired in between, that write would leave the task DEFERRED without a trigger (its event
    already in ``next_kwargs``), and nothing would ever resume it: it goes back to SCHEDULED.
    """
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import update

    with create_session() as session:
        session.execute(
            update(TaskInstance)
            .where(
                TaskInstance.id == ti.id,
                TaskInstance.state == TaskInstanceState.DEFERRED,
                TaskInstance.trigger_id.is_(None),
            )
            .values(state=TaskInstanceState.SCHEDULED)
        )
