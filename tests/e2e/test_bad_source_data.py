"""Bad source data stops the run at export, before any Personalize import job exists."""

from __future__ import annotations

import json

import psycopg
import pytest

pytestmark = pytest.mark.e2e

LONG_ID = "C" + "x" * 300


@pytest.fixture(scope="module")
def corrupted_store(pipeline_env):
    from devenv import datagen

    datagen.load(pipeline_env["database_url"], datagen.generate("tiny"))
    with psycopg.connect(pipeline_env["database_url"]) as conn:
        conn.execute("INSERT INTO store.customers VALUES (%s, now(), 'DE', '25-34')", (LONG_ID,))
        conn.execute(
            "INSERT INTO store.events SELECT max(event_id) + 1, %s, min(product_id), 'view', "
            "timestamptz '2026-06-01' FROM store.events",
            (LONG_ID,),
        )
    yield pipeline_env
    datagen.load(pipeline_env["database_url"], datagen.generate("tiny"))


def _all_import_jobs(personalize) -> list[str]:
    return [
        j["datasetImportJobArn"]
        for j in personalize.list_dataset_import_jobs(maxResults=100)["datasetImportJobs"]
    ]


def test_long_user_id_fails_the_export_and_no_import_starts(corrupted_store, aws_clients):
    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT

    personalize, s3 = aws_clients("personalize"), aws_clients("s3")
    before = _all_import_jobs(personalize)
    dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).get_dag("personalize_end_to_end")
    run = dag.test(run_conf={"poll_seconds": 1})
    assert str(run.state) == "failed"
    assert _all_import_jobs(personalize) == before

    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["interactions.export"] == "failed"
    assert states["interactions.import"] == "upstream_failed"
    assert states["load_cache"] == "upstream_failed"

    # The rejected file and its report are kept next to each other for inspection.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=corrupted_store["bucket"])["Contents"]]
    report_key = next(
        k
        for k in keys
        if run.run_id.replace(":", "_").replace("+", "_") in k and k.endswith("validation/interactions.json")
    )
    report = json.loads(s3.get_object(Bucket=corrupted_store["bucket"], Key=report_key)["Body"].read())
    assert report["ok"] is False
    assert any(
        LONG_ID[:20] in example for example in report["problems"]["USER_ID longer than 256 characters"]
    )
