"""The demo's experiment report run is the scheduler's own, so an unpaused report DAG gets past it."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import yaml

SCHEMA = "demo_report_run_tests"
LAST_RUN = datetime(2026, 11, 15, tzinfo=UTC)  # the midnight after the demo experiment's last day


def test_the_demo_report_run_is_the_scheduled_run_of_its_day(
    database_url, airflow_db, pipelines_dir, tmp_path
):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    from devenv.airflow_env import set_connections
    from devenv.experiment_loop import forget_previous_run, run_report_scheduled
    from devenv.postgres import REPO_ROOT, apply_schema
    from personalize_pipeline.config import DEFAULT_PATH

    set_connections(db_url=database_url, aws_endpoint_url=None)
    apply_schema(database_url)
    raw = copy.deepcopy(yaml.safe_load(DEFAULT_PATH.read_text())) | {"cache_schema": SCHEMA}
    with pipelines_dir({"personalize": raw}, tmp_path):
        forget_previous_run(database_url, SCHEMA, "homepage-recs")
        dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).get_dag("personalize_experiment_report")
        run = run_report_scheduled(dag, LAST_RUN)

    assert str(run.state) == "success"
    assert run.run_type == "scheduled"
    assert run.run_id == f"scheduled__{LAST_RUN.isoformat()}"
    assert run.logical_date == run.data_interval_start == run.data_interval_end == LAST_RUN
    with create_session() as session:
        next_run = session.get(DagModel, dag.dag_id).next_dagrun
    # A manual run there left next_dagrun before it: once unpaused, the scheduler's catchup reached
    # that date and logged "run already exists" for ever.
    assert next_run is None or next_run > LAST_RUN
