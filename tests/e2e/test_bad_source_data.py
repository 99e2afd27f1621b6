"""Bad source data stops the export, and the retraining run refuses it before any import job exists."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import psycopg
import pytest
import yaml

pytestmark = pytest.mark.e2e

LONG_ID = "C" + "x" * 300
RUN_AT = datetime(2026, 7, 1, tzinfo=UTC)  # a run at July 1st covers June
PREFIX = "bad-data"


@pytest.fixture(scope="module")
def corrupted_store(pipeline_env, tmp_path_factory):
    from devenv import datagen
    from personalize_pipeline.config import DEFAULT_PATH, PIPELINES_DIR_ENV

    datagen.load(pipeline_env["database_url"], datagen.generate("demo"))
    with psycopg.connect(pipeline_env["database_url"]) as conn:
        conn.execute(
            "INSERT INTO store.customers VALUES (%s, timestamptz '2026-06-01', 'DE', '25-34')", (LONG_ID,)
        )
        conn.execute(
            "INSERT INTO store.events SELECT max(event_id) + 1, %s, min(product_id), 'view', "
            "timestamptz '2026-06-10' FROM store.events",
            (LONG_ID,),
        )
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw.update(dataset_group="bad-data", start_date="2026-06-01")
    raw["s3"] = {"bucket": pipeline_env["bucket"], "prefix": PREFIX}
    raw["retries"] = {"count": 1, "delay_seconds": 1, "max_delay_minutes": 1}
    path = tmp_path_factory.mktemp("config") / "personalize.yaml"
    path.write_text(yaml.safe_dump(raw))
    os.environ[PIPELINES_DIR_ENV] = str(path.parent)
    yield pipeline_env
    os.environ.pop(PIPELINES_DIR_ENV, None)
    datagen.load(pipeline_env["database_url"], datagen.generate("tiny"))


def _all_import_jobs(personalize) -> list[str]:
    return [
        j["datasetImportJobArn"]
        for j in personalize.list_dataset_import_jobs(maxResults=100)["datasetImportJobs"]
    ]


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT

    return DagBag(dag_folder=str(REPO_ROOT / "dags")).get_dag(dag_id)


def test_long_user_id_fails_the_export_and_no_import_starts(corrupted_store, aws_clients):
    personalize, s3 = aws_clients("personalize"), aws_clients("s3")
    before = _all_import_jobs(personalize)

    export = _dag("personalize_export").test(logical_date=RUN_AT)
    assert str(export.state) == "failed"
    states = {ti.task_id: str(ti.state) for ti in export.get_task_instances()}
    assert states == {"export_interactions": "failed", "export_items": "success", "export_users": "failed"}

    # The rejected file and its report are kept for inspection; the report names the value.
    bucket = corrupted_store["bucket"]
    assert s3.head_object(Bucket=bucket, Key=f"{PREFIX}/datasets/interactions/2026-06-01T0000.csv")
    report = json.loads(
        s3.get_object(Bucket=bucket, Key=f"{PREFIX}/reports/interactions/2026-06-01T0000.json")["Body"].read()
    )
    assert report["ok"] is False
    assert any(
        LONG_ID[:20] in example for example in report["problems"]["USER_ID longer than 256 characters"]
    )

    retrain = _dag("personalize_retrain_full").test(logical_date=RUN_AT, run_conf={"poll_seconds": 1})
    assert str(retrain.state) == "failed"
    states = {ti.task_id: str(ti.state) for ti in retrain.get_task_instances()}
    assert states["plan"] == "failed"
    assert _all_import_jobs(personalize) == before
