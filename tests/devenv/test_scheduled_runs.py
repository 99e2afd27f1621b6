"""The demo's runs are the runs the scheduler would have made, so the scheduler carries on after them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest

from devenv.scheduled_runs import bundles_parsed_once, interval_infos, run_scheduled

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "monthly_intervals"
# Three months up to the one before the last that has ended, which the scheduler then runs itself.
THIS_MONTH = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
END = (THIS_MONTH - timedelta(days=1)).replace(day=1)
FIRST = (END - timedelta(days=85)).replace(day=1)


def _airflow(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"},
    )


def _dag_model():
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        model = session.get(DagModel, DAG_ID)
        session.expunge(model)
        return model


def _runs():
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(select(DagRun).where(DagRun.dag_id == DAG_ID).order_by(DagRun.logical_date))
        return [(r.run_id, r.run_type, r.logical_date, r.data_interval_start, r.start_date) for r in runs]


@pytest.fixture(scope="module")
def bundle_parses():
    """How often dag.test() parsed a bundle's DAG files (a ``BundleDagBag`` was made)."""
    from airflow.dag_processing.dagbag import BundleDagBag

    with mock.patch.object(
        BundleDagBag, "__init__", autospec=True, side_effect=BundleDagBag.__init__
    ) as init:
        yield init


@pytest.fixture(scope="module")
def demo_runs(airflow_db, bundle_parses):
    """Three months run as the demo runs them; returns (run, info) pairs and when they started."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.pool import Pool

    Pool.create_or_update_pool("monthly_intervals", slots=1, description="test", include_deferred=False)
    dag = DagBag(dag_folder=str(ROOT / "tests" / "dag_fixtures")).get_dag(DAG_ID)
    started = datetime.now(UTC)
    infos = interval_infos(dag, FIRST, END)
    runs = []
    with bundles_parsed_once():
        for info in infos:
            runs.append((run_scheduled(dag, info), info))
            parses_so_far.append(bundle_parses.call_count)
    return runs, started


parses_so_far: list[int] = []  # bundles parsed by the end of each of demo_runs' runs


def test_bundles_are_parsed_by_the_first_run_only(demo_runs):
    assert len(parses_so_far) == 3
    assert parses_so_far[0] >= 1
    assert parses_so_far == parses_so_far[:1] * 3


def test_runs_carry_the_scheduler_run_ids_types_and_intervals(demo_runs):
    runs, started = demo_runs
    assert [info.data_interval.start for _, info in runs][0] == FIRST
    assert [info.data_interval.end for _, info in runs][-1] == END
    assert len(runs) == 3
    for run, info in runs:
        assert str(run.state) == "success"
        assert run.run_type == "scheduled"
        assert run.run_id == f"scheduled__{info.data_interval.end.isoformat()}"  # the timetable's format
        assert run.logical_date == run.data_interval_start == info.data_interval.start
        assert run.data_interval_end == info.data_interval.end
        # Started when it ran, not at its logical date (the UI showed days-long durations).
        assert run.start_date >= started and run.end_date - run.start_date < timedelta(minutes=10)


def test_the_next_scheduled_run_moves_past_the_demo_runs(demo_runs):
    runs, _ = demo_runs
    model = _dag_model()
    last = runs[-1][0].logical_date
    assert model.next_dagrun > last
    assert model.next_dagrun not in {logical for _, _, logical, _, _ in _runs()}


def test_a_trigger_and_a_real_scheduler_create_new_runs(demo_runs):
    from airflow.models.dag import DagModel
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session

    next_run = _dag_model().next_dagrun
    assert next_run == END  # the month that has ended since, due now
    triggered = _airflow("dags", "trigger", DAG_ID, "--logical-date", "2026-06-15T00:00:00+00:00")
    assert triggered.returncode == 0, triggered.stderr[-2000:]

    # The scheduler may create runs but not start tasks (their pool is empty).
    Pool.create_or_update_pool("monthly_intervals", slots=0, description="test", include_deferred=False)
    with create_session() as session:
        session.get(DagModel, DAG_ID).is_paused = False
    scheduler = _airflow("scheduler", "--num-runs", "3", "--skip-serve-logs")
    output = scheduler.stdout + scheduler.stderr
    assert scheduler.returncode == 0, output[-3000:]
    assert "run already exists" not in output
    by_logical = {logical: (run_id, run_type) for run_id, run_type, logical, _, _ in _runs()}
    assert by_logical[next_run][1] == "scheduled"
    assert by_logical[datetime(2026, 6, 15, tzinfo=UTC)][1] == "manual"
    assert _dag_model().next_dagrun > next_run


def _backfill_outcome(backfill_started: datetime) -> dict:
    """logical date → (exception reason, run type, run state) of the newest backfill's dates."""
    from airflow.models.backfill import Backfill, BackfillDagRun
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        backfill = session.scalars(
            select(Backfill).where(Backfill.dag_id == DAG_ID).order_by(Backfill.id.desc()).limit(1)
        ).one()
        assert backfill.created_at >= backfill_started
        outcome = {}
        for row in session.scalars(select(BackfillDagRun).where(BackfillDagRun.backfill_id == backfill.id)):
            run = session.get(DagRun, row.dag_run_id) if row.dag_run_id else None
            outcome[row.logical_date] = (
                row.exception_reason,
                run and run.run_type,
                run and str(run.state),
                run and (run.data_interval_start, run.data_interval_end),
            )
        return outcome


def test_the_documented_backfill_reruns_demo_months(demo_runs):
    """The README's command: logical dates are interval starts, both ends included, and the months
    the demo ran are run again (reprocess completed), each with its own data interval."""
    runs, _ = demo_runs
    first, second = (info for _, info in runs[:2])
    dates = [
        "--from-date",
        first.logical_date.date().isoformat(),
        "--to-date",
        second.logical_date.date().isoformat(),
    ]

    started = datetime.now(UTC)
    rerun = _airflow("backfill", "create", "--dag-id", DAG_ID, *dates, "--reprocess-behavior", "completed")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    outcome = _backfill_outcome(started)
    assert sorted(outcome) == [first.logical_date, second.logical_date]
    for info in (first, second):
        reason, run_type, state, interval = outcome[info.logical_date]
        assert (reason, run_type, state) == (None, "backfill", "queued")
        assert interval == (info.data_interval.start, info.data_interval.end)
