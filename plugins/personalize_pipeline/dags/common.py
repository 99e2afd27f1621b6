"""What every DAG of a pipeline shares: start date, retries, notifiers, tags, the poll setting."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import pendulum
from airflow.sdk import Asset, Param
from airflow.timetables.interval import CronDataIntervalTimetable

from personalize_pipeline.config import PipelineConfig
from personalize_pipeline.notifications import run_notifiers

log = logging.getLogger(__name__)


def dag_args(
    cfg: PipelineConfig,
    kind: str,
    *,
    doc_md: str,
    schedule: str | None = None,
    data_intervals: bool = True,
    **extra: Any,
) -> dict:
    """Keyword arguments of ``DAG(...)`` for this pipeline's DAG of one kind.

    ``data_intervals`` gives each run the interval a cron or preset schedule covers (exports and
    retraining read their data by it); without it the schedule is Airflow's plain one.
    """
    if schedule and data_intervals:
        schedule = CronDataIntervalTimetable(schedule, timezone="UTC")
    return {
        "dag_id": cfg.dag_id(kind),
        "schedule": schedule,
        "start_date": pendulum.instance(cfg.start),
        "catchup": False,
        "max_active_runs": 1,
        "default_args": cfg.default_args(),
        "on_success_callback": run_notifiers(cfg, "success"),
        "on_failure_callback": run_notifiers(cfg, "failure"),
        "doc_md": doc_md.replace("{pipeline}", cfg.name),
        "tags": ["personalize", f"pipeline:{cfg.name}", kind.replace("_", "-")],
        **extra,
    }


def poll_param(cfg: PipelineConfig) -> Param:
    return Param(cfg.poll_seconds, type="integer", minimum=1, description="Seconds between status checks.")


# The operators render their waiter_delay alone as a native object: the form's int stays an int.
POLL = "{{ params.poll_seconds }}"


def aws_args(cfg: PipelineConfig) -> dict[str, Any]:
    """Arguments of every Personalize operator: the connection, deferral, the run's poll interval."""
    return {"aws_conn_id": cfg.connections.aws, "waiter_delay": POLL, "deferrable": True}


def dataset_asset(cfg: PipelineConfig, slug: str) -> Asset:
    """The S3 folder of one dataset's exports: the export DAG's outlet, the retraining DAGs' inlet.

    Named, with the folder in ``extra``: an ``s3://`` URI would make Airflow load every provider's
    metadata to normalise it, 0.2–0.3 s more per DAG file at parse.
    """
    from personalize_pipeline.s3_paths import dataset_folder

    return Asset(
        name=f"{cfg.name}.{slug}",
        group="personalize",
        extra={
            "pipeline": cfg.name,
            "dataset_group": cfg.dataset_group,
            "location": dataset_folder(cfg.s3, slug),
        },
    )


def run_interval() -> tuple[datetime, datetime]:
    """The running task's data interval. In Airflow 3 a run triggered without a logical date has
    none; it gets the one Airflow gives a manual run with a logical date: the schedule's latest
    interval that has ended by the run's trigger time (``run_after``)."""
    from airflow.sdk import get_current_context

    context = get_current_context()
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None:
        return start, end
    run_after = context["dag_run"].run_after
    interval = context["dag"].timetable.infer_manual_data_interval(run_after=run_after)
    log.warning(
        "Run %s has no data interval (triggered without a logical date): using %s .. %s, the schedule's "
        "latest interval ended by its trigger time %s. Pass --logical-date for another interval.",
        context["dag_run"].run_id,
        interval.start,
        interval.end,
        run_after,
    )
    return interval.start, interval.end
