"""Two pipelines share one PostgreSQL and one bucket; nothing one writes is read or dropped by the other.

Each runs its export for two months and its FULL retraining; then the first one's cleanup (which
keeps one partition), a second retraining of its fallbacks and a rollback run. The second
pipeline's S3 objects, caches, gate history and bookkeeping are compared before and after.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import psycopg
import pytest
import yaml

pytestmark = pytest.mark.e2e

PIPELINES = ("alpha", "beta")
MONTHS = [datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)]  # logical dates
FAST = {"poll_seconds": 1}


def _config(name: str, bucket: str) -> dict:
    from personalize_pipeline.config import DEFAULT_PATH

    raw = copy.deepcopy(yaml.safe_load(DEFAULT_PATH.read_text()))
    raw.update(
        dataset_group=f"{name}-multi",
        cache_schema=f"{name}_cache",
        start_date="2026-09-01",
        poll_seconds=1,
        solutions={"user-personalization": raw["solutions"]["user-personalization"]},
    )
    raw["s3"] = {"bucket": bucket, "prefix": f"multi/{name}"}
    raw["event_sync"]["tracker_name"] = f"{name}-multi-events"
    raw["retention"]["export_partitions"] = 1
    # One month of demo data: the local service's default ALS does not beat popularity-count on it,
    # and the baseline is not what this test is about.
    raw["quality_gate"]["baseline"] = {"enabled": False}
    raw["retries"] = {"count": 1, "delay_seconds": 1, "max_delay_minutes": 1}
    return raw


@pytest.fixture(scope="module")
def pipelines(pipeline_env, tmp_path_factory, pipelines_dir, pipeline_dag_file):
    from devenv import datagen

    datagen.load(pipeline_env["database_url"], datagen.generate("demo"))
    configs = {name: _config(name, pipeline_env["bucket"]) for name in PIPELINES}
    with pipelines_dir(configs, tmp_path_factory.mktemp("pipelines")):
        files = {name: pipeline_dag_file(name) for name in PIPELINES}
        yield {**pipeline_env, "files": files}


def _dag(path, dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(path))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def _query(url: str, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _objects(s3, bucket: str, prefix: str) -> dict[str, str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


def _state(url: str, schema: str) -> dict:
    """Every row the pipeline keeps in its schema: caches, their loads, gate history, imports."""
    state = {}
    for cache in ("user_recommendations", "popular_items", "trending_items"):
        state[cache] = _query(url, f"SELECT * FROM {schema}.{cache} ORDER BY 1, 2")
    for table in ("cache_loads", "solution_metrics", "dataset_imports"):
        state[table] = _query(url, f"SELECT * FROM {schema}.{table} ORDER BY 1")
    state["tables"] = _query(
        url, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", (schema,)
    )
    return state


@pytest.fixture(scope="module")
def both_trained(pipelines):
    runs = {}
    for name, path in pipelines["files"].items():
        exports = [_dag(path, f"{name}_export").test(logical_date=month) for month in MONTHS]
        assert [str(r.state) for r in exports] == ["success", "success"]
        runs[name] = _dag(path, f"{name}_retrain_full").test(logical_date=MONTHS[-1], run_conf=FAST)
    return runs


def test_each_pipeline_trains_into_its_own_group_schema_and_prefix(both_trained, pipelines, aws_clients):
    url, bucket = pipelines["database_url"], pipelines["bucket"]
    assert {name: str(run.state) for name, run in both_trained.items()} == {n: "success" for n in PIPELINES}
    s3 = aws_clients("s3")
    everything = _objects(s3, bucket, "multi/")
    assert everything and all(key.split("/")[1] in PIPELINES for key in everything)
    for name in PIPELINES:
        mine = [k for k in everything if k.startswith(f"multi/{name}/")]
        assert f"multi/{name}/datasets/interactions/2026-10-01T0000.csv" in mine
        assert any(k.startswith(f"multi/{name}/runs/{name}_retrain_full/") for k in mine)
        versions = _query(url, f"SELECT solution_version_arn, decision FROM {name}_cache.solution_metrics")
        assert len(versions) == 1 and versions[0][1] == "promoted"
        assert f"/{name}-multi-user-personalization/" in versions[0][0]
        live = _query(url, f"SELECT cache_name, dag_id FROM {name}_cache.cache_loads WHERE status = 'live'")
        assert {dag_id for _, dag_id in live} == {f"{name}_retrain_full"}
    personalize = aws_clients("personalize")
    groups = {g["name"] for g in personalize.list_dataset_groups(maxResults=100)["datasetGroups"]}
    assert {"alpha-multi", "beta-multi"} <= groups


def test_exports_record_asset_events_with_row_counts(both_trained, pipelines):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.execute(
            select(AssetModel.name, AssetEvent.extra)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name.in_(["alpha.interactions", "beta.interactions"]))
        ).all()
    by_asset = {}
    for name, extra in events:
        by_asset.setdefault(name, set()).add((extra["partition"], extra["rows"] > 0))
    assert by_asset == {
        f"{name}.interactions": {("2026-09-01T0000", True), ("2026-10-01T0000", True)} for name in PIPELINES
    }


def test_one_pipelines_cleanup_and_rollback_leave_the_other_alone(both_trained, pipelines, aws_clients):
    url, bucket = pipelines["database_url"], pipelines["bucket"]
    s3 = aws_clients("s3")
    beta_objects, beta_state = _objects(s3, bucket, "multi/beta/"), _state(url, "beta_cache")
    alpha = pipelines["files"]["alpha"]

    cleanup = _dag(alpha, "alpha_cleanup").test(logical_date=MONTHS[-1])
    assert str(cleanup.state) == "success"
    # Fallbacks only: a second load of each list, so the rollback has a snapshot to go back to.
    refresh = _dag(alpha, "alpha_retrain_full").test(
        logical_date=datetime(2026, 11, 2, tzinfo=UTC), run_conf={**FAST, "solutions": []}
    )
    assert str(refresh.state) == "success"
    rollback = _dag(alpha, "alpha_cache_rollback").test(run_conf={"cache_name": "popular_items"})
    assert str(rollback.state) == "success"

    alpha_partitions = [k for k in _objects(s3, bucket, "multi/alpha/datasets/interactions/")]
    assert alpha_partitions == ["multi/alpha/datasets/interactions/2026-10-01T0000.csv"]
    statuses = _query(url, "SELECT status FROM alpha_cache.cache_loads WHERE cache_name = 'popular_items'")
    assert sorted(s for (s,) in statuses) == ["live", "rolled_back"]
    assert _objects(s3, bucket, "multi/beta/") == beta_objects
    assert _state(url, "beta_cache") == beta_state
