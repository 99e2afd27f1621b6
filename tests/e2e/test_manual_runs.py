"""
Runs triggered without a logical date (`airflow dags trigger <dag>`), which Airflow 3 gives no
data interval: they take the schedule's latest interval ended by the trigger time, as Airflow does
for a manual run given a logical date, and say so in the log.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
import yaml

pytestmark = pytest.mark.e2e

PREFIX = "e2e-manual-runs"
TRIGGERED_AT = datetime(2026, 10, 14, 9, 30, tzinfo=UTC)  # run_after: mid-month


@pytest.fixture(scope="module")
def pipeline(pipeline_env, tmp_path_factory, pipelines_dir):
    from devenv import datagen
    from personalize_pipeline.config import DEFAULT_PATH

    datagen.load(pipeline_env["database_url"], datagen.generate("tiny"))
    raw = copy.deepcopy(yaml.safe_load(DEFAULT_PATH.read_text()))
    raw.update(dataset_group="manual-runs", start_date="2025-10-01")
    raw["s3"] = {"bucket": pipeline_env["bucket"], "prefix": PREFIX}
    raw["retries"] = {"count": 1, "delay_seconds": 1, "max_delay_minutes": 1}
    raw["schedules"]["export"] = "0 0 1 10 *"  # yearly: one partition holds enough for a retraining plan
    with pipelines_dir({"personalize": raw}, tmp_path_factory.mktemp("manual-runs")):
        yield raw


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag(dag_id)


def _keys(aws_clients, bucket: str, folder: str) -> list[str]:
    listing = aws_clients("s3").list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}/{folder}/")
    return sorted(o["Key"].rsplit("/", 1)[-1] for o in listing.get("Contents", []))


def test_an_export_triggered_without_a_logical_date_exports_the_last_ended_interval(
    pipeline, pipeline_env, aws_clients, caplog
):
    run = _dag("personalize_export").test(logical_date=None, run_after=TRIGGERED_AT)
    assert run.data_interval_start is None  # what `airflow dags trigger` without --logical-date makes
    assert str(run.state) == "success", {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    # The yearly interval ended by 2026-10-14: 2025-10-01 .. 2026-10-01.
    assert _keys(aws_clients, pipeline_env["bucket"], "datasets/interactions") == ["2025-10-01T0000.csv"]
    assert "has no data interval (triggered without a logical date)" in caplog.text


def test_a_retraining_triggered_without_a_logical_date_plans_up_to_the_last_ended_interval(
    pipeline, aws_clients, caplog
):
    """After the export above: the monthly retraining's interval ended by 2026-10-14 ends on
    2026-10-01, by which the yearly partition has ended; a dry run shows the plan and stops."""
    dag = _dag("personalize_retrain_full")
    run = dag.test(logical_date=None, run_after=TRIGGERED_AT, run_conf={"dry_run": True, "poll_seconds": 1})
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success" and states["plan"] == "success", states
    assert states["user-personalization.train"] == "skipped"
    planned = run.get_task_instance("plan").xcom_pull(task_ids="plan")
    assert planned["partitions"] == ["2025-10-01T0000"], planned
    assert "has no data interval (triggered without a logical date)" in caplog.text
