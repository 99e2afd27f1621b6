"""The cleanup DAG applies the retention policy to S3: a dry run removes nothing, a real run the old files."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
import yaml

pytestmark = pytest.mark.e2e

PREFIX = "cleanup-e2e"
LABELS = ["2026-07-01T0000", "2026-08-01T0000", "2026-09-01T0000"]


@pytest.fixture(scope="module")
def configured(pipeline_env, aws_clients, tmp_path_factory):
    from personalize_pipeline.config import DEFAULT_PATH, PIPELINES_DIR_ENV

    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw.update(dataset_group="cleanup-e2e")
    raw["s3"] = {"bucket": pipeline_env["bucket"], "prefix": PREFIX}
    raw["retention"].update(export_partitions=2, run_files_days=30)
    raw["retries"] = {"count": 1, "delay_seconds": 1, "max_delay_minutes": 1}
    path = tmp_path_factory.mktemp("config") / "personalize.yaml"
    path.write_text(yaml.safe_dump(raw))
    os.environ[PIPELINES_DIR_ENV] = str(path.parent)
    s3 = aws_clients("s3")
    for slug in ("interactions", "items", "users"):
        for label in LABELS:
            s3.put_object(
                Bucket=pipeline_env["bucket"], Key=f"{PREFIX}/datasets/{slug}/{label}.csv", Body=b"x"
            )
            s3.put_object(
                Bucket=pipeline_env["bucket"], Key=f"{PREFIX}/reports/{slug}/{label}.json", Body=b"{}"
            )
    s3.put_object(Bucket=pipeline_env["bucket"], Key=f"{PREFIX}/runs/some_dag/run_1/a/input.json", Body=b"{}")
    yield pipeline_env
    os.environ.pop(PIPELINES_DIR_ENV, None)


def _keys(s3, bucket: str) -> set[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}/")
    return {o["Key"] for o in listed.get("Contents", [])}


def _run(logical_date=datetime(2030, 1, 6, tzinfo=UTC), **conf):
    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT

    dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).get_dag("personalize_cleanup")
    # Run as of a date well after the files were written, so the run files are past retention.
    return dag.test(logical_date=logical_date, run_conf=conf)


def test_dry_run_removes_nothing_and_a_run_applies_retention(configured, aws_clients):
    s3, bucket = aws_clients("s3"), configured["bucket"]
    before = _keys(s3, bucket)
    assert len(before) == 19

    dry = _run(dry_run=True)
    assert str(dry.state) == "success"
    assert _keys(s3, bucket) == before
    states = {ti.task_id: str(ti.state) for ti in dry.get_task_instances()}
    # No solution exists in this dataset group yet: their cleanup is skipped, not failed.
    assert states["find_user-personalization"] == "skipped"
    assert states["versions_user-personalization"] == "skipped"

    real = _run(dry_run=False)
    assert str(real.state) == "success"
    after = _keys(s3, bucket)
    removed = before - after
    assert removed == {
        f"{PREFIX}/{folder}/{slug}/{LABELS[0]}.{ext}"
        for slug in ("interactions", "items", "users")
        for folder, ext in (("datasets", "csv"), ("reports", "json"))
    } | {f"{PREFIX}/runs/some_dag/run_1/a/input.json"}


def test_a_run_without_logical_date_prunes_as_of_its_trigger_time(configured, aws_clients):
    """``airflow dags trigger`` without --logical-date gives no data interval; the run still prunes."""
    run = _run(logical_date=None, dry_run=True)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["prune_s3"] == "success", states
