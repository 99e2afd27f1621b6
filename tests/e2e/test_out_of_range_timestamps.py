"""Interactions no export interval covers: a future one fails the export, naming the row;
those before start_date are counted and logged."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import psycopg
import pytest
import yaml

pytestmark = pytest.mark.e2e

PREFIX = "e2e-out-of-range"
MS_EPOCH = 1_780_000_000_000  # 2026-05-28 in milliseconds, read as seconds by to_timestamp()
BAD_USER = "C-MILLISECONDS"


@pytest.fixture(scope="module")
def store(pipeline_env, tmp_path_factory, pipelines_dir):
    from devenv import datagen
    from personalize_pipeline.config import DEFAULT_PATH

    url = pipeline_env["database_url"]
    datagen.load(url, datagen.generate("tiny"))
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO store.customers VALUES (%s, now(), 'DE', '25-34')", (BAD_USER,))
        conn.execute(
            "INSERT INTO store.events SELECT max(event_id) + 1, %s, min(product_id), 'view', "
            "to_timestamp(%s) FROM store.events",
            (BAD_USER, MS_EPOCH),
        )
    raw = copy.deepcopy(yaml.safe_load(DEFAULT_PATH.read_text()))
    raw.update(dataset_group="out-of-range", start_date="2026-01-01")
    raw["s3"] = {"bucket": pipeline_env["bucket"], "prefix": PREFIX}
    raw["retries"] = {"count": 1, "delay_seconds": 1, "max_delay_minutes": 1}
    with pipelines_dir({"personalize": raw}, tmp_path_factory.mktemp("out-of-range")):
        yield pipeline_env
    datagen.load(url, datagen.generate("tiny"))


def _check(url_env, start_date):
    from personalize_pipeline.time_range import check_interactions_range

    return check_interactions_range(
        db_conn_id="store_db",
        query_file="extract/interactions.sql",
        start_date=start_date,
        now=datetime(2026, 12, 2, tzinfo=UTC),
    )


def test_a_millisecond_timestamp_is_named_not_silently_dropped(store):
    from personalize_pipeline.time_range import OutOfRangeError

    with pytest.raises(OutOfRangeError) as error:
        _check(store, datetime(2025, 11, 1, tzinfo=UTC))
    message = str(error.value)
    assert "include/sql/extract/interactions.sql: 1 row(s) dated after 2026-12-03 00:00 UTC" in message
    assert f"USER_ID='{BAD_USER}'" in message and f"TIMESTAMP={MS_EPOCH} (year 58375)" in message


def test_the_export_fails_before_writing_and_passes_once_fixed(store, aws_clients):
    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT

    dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).get_dag("personalize_export")
    run = dag.test(logical_date=datetime(2026, 2, 1, tzinfo=UTC))
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["export_interactions"] == "failed"
    s3 = aws_clients("s3")
    listed = s3.list_objects_v2(Bucket=store["bucket"], Prefix=f"{PREFIX}/datasets/interactions/")
    assert listed["KeyCount"] == 0
    with psycopg.connect(store["database_url"]) as conn:
        conn.execute("DELETE FROM store.events WHERE customer_id = %s", (BAD_USER,))
    rerun = dag.test(logical_date=datetime(2026, 3, 1, tzinfo=UTC))
    assert str(rerun.state) == "success"


def test_rows_before_start_date_are_counted_not_failed(store):
    with psycopg.connect(store["database_url"]) as conn:
        conn.execute("DELETE FROM store.events WHERE customer_id = %s", (BAD_USER,))
        expected = conn.execute(
            "SELECT (SELECT count(*) FROM store.events WHERE occurred_at < '2026-01-01')"
            " + (SELECT count(*) FROM store.orders o JOIN store.order_items USING (order_id)"
            "    WHERE o.ordered_at < '2026-01-01')"
        ).fetchone()[0]
    before = _check(store, datetime(2026, 1, 1, tzinfo=UTC))
    assert expected > 0 and before.total == expected
    assert str(before).startswith(f"{expected} interaction(s) before start_date 2026-01-01 are not exported")
