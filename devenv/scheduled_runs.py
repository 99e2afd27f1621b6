"""
Runs of the demo that the scheduler takes for its own: ``dag.test()``, but with a scheduled run.

``dag.test()`` makes a MANUAL run (``manual__…``, started "at" its logical date) whose data
interval is inferred from the logical date. Demo runs made that way collided with the runs the
scheduler later wanted at the same logical dates ("run already exists; skipping dagrun
creation" for ever, ``next_dagrun`` stuck) and with backfills. Here each run is created the
way ``SchedulerJobRunner._create_dag_runs`` creates one: the timetable's logical date, data
interval and run id, ``run_type`` SCHEDULED, triggered by the timetable; then the DAG's
``next_dagrun*`` fields move past it, as the scheduler moves them.

``dag.test()`` also parses the DAG's whole bundle and writes every DAG of it to the metadata
database on each call; a process whose DAG files do not change can parse and write them once
(``bundles_parsed_once``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from unittest import mock


def interval_infos(dag, earliest: datetime, latest: datetime) -> list:
    """The timetable's runs (``DagRunInfo``) whose data interval lies within [earliest, latest]."""
    from airflow.serialization.serialized_objects import DagSerialization

    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    return [
        info
        for info in scheduler_dag.iter_dagrun_infos_between(earliest, latest)
        if info.data_interval.end <= latest
    ]


@contextlib.contextmanager
def bundles_parsed_once() -> Iterator[None]:
    """Within this block, ``dag.test()`` parses and writes each bundle's DAGs on its first call only.

    Every call re-imports the bundle's DAG files and serialises all their DAGs to compare hashes
    (2-3 s per call for this project's bundle on two busy cores) although nothing changed: in
    one process, between runs of the same files, the first call's parse and write stand.
    """
    from airflow.dag_processing import dagbag as dagbag_module

    parse, sync = dagbag_module.BundleDagBag, dagbag_module.sync_bag_to_db
    parsed: dict[tuple, Any] = {}
    synced: set[int] = set()

    def parse_once(*, dag_folder, bundle_path, bundle_name, **kwargs):
        key = (str(dag_folder), str(bundle_path), bundle_name, tuple(sorted(kwargs.items())))
        if key not in parsed:
            parsed[key] = parse(
                dag_folder=dag_folder, bundle_path=bundle_path, bundle_name=bundle_name, **kwargs
            )
        return parsed[key]

    def sync_once(bag, *args, **kwargs):
        if id(bag) not in synced:
            sync(bag, *args, **kwargs)
            synced.add(id(bag))

    with (
        mock.patch.object(dagbag_module, "BundleDagBag", parse_once),
        mock.patch.object(dagbag_module, "sync_bag_to_db", sync_once),
    ):
        yield


def run_scheduled(dag, info, run_conf: dict | None = None):
    """``dag.test()`` of the scheduled run ``info`` (a ``DagRunInfo``); returns the finished run."""
    with _scheduled_run_factory(info):
        return dag.test(logical_date=info.logical_date, run_conf=run_conf)


@contextlib.contextmanager
def _scheduled_run_factory(info) -> Iterator[None]:
    """Swap dag.test()'s run factory (``get_or_create_dagrun``) for the scheduler's way of making runs."""

    def create(*, dag, conf, session, **_manual_run_fields):
        from airflow.models.dag import DagModel
        from airflow.models.dagrun import DagRun
        from airflow.sdk import timezone
        from airflow.utils.state import DagRunState
        from airflow.utils.types import DagRunTriggeredByType, DagRunType
        from sqlalchemy import select

        # A rerun replaces the earlier run of that interval, as dag.test() replaces its own.
        previous = session.scalar(
            select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.logical_date == info.logical_date)
        )
        if previous:
            session.delete(previous)
            session.commit()
        run = dag.create_dagrun(
            run_id=dag.timetable.generate_run_id(
                run_type=DagRunType.SCHEDULED,
                run_after=info.run_after,
                data_interval=info.data_interval,
                partition_key=info.partition_key,
            ),
            logical_date=info.logical_date,
            data_interval=info.data_interval,
            run_after=info.run_after,
            run_type=DagRunType.SCHEDULED,
            triggered_by=DagRunTriggeredByType.TIMETABLE,
            state=DagRunState.RUNNING,
            start_date=timezone.utcnow(),
            conf=conf,
            session=session,
        )
        dag_model = session.get(DagModel, dag.dag_id)
        if dag_model is not None:
            dag_model.calculate_dagrun_date_fields(dag=dag, reference_run=_latest_scheduled(dag, session))
        session.commit()
        return run

    with mock.patch("airflow.models.dagrun.get_or_create_dagrun", create):
        yield


def _latest_scheduled(dag, session):
    """The newest automated run: what the scheduler computes the next run from."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.types import DagRunType
    from sqlalchemy import select

    automated = [DagRunType.SCHEDULED, DagRunType.BACKFILL_JOB]
    return session.scalar(
        select(DagRun)
        .where(DagRun.dag_id == dag.dag_id, DagRun.run_type.in_(automated))
        .order_by(DagRun.logical_date.desc())
        .limit(1)
    )
