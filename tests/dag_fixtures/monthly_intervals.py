"""A monthly DAG with data intervals, like the pipeline's, for the demo's scheduled-run tests.

Its task runs in pool ``monthly_intervals``: a test empties the pool so a real scheduler creates
runs but starts no task.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task
from airflow.timetables.interval import CronDataIntervalTimetable

with DAG(
    dag_id="monthly_intervals",
    schedule=CronDataIntervalTimetable("@monthly", timezone="UTC"),
    start_date=pendulum.datetime(2020, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 0, "pool": "monthly_intervals"},
):

    @task
    def interval(data_interval_start=None, data_interval_end=None):
        return [data_interval_start.isoformat(), data_interval_end.isoformat()]

    interval()
