"""The monitors: each fires on crafted data with its numbers, one SNS message per problem, and stays
quiet on normal data. Volume reads partitions from (moto) S3; coverage measures a real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from personalize_pipeline.config import MonitoringConfig, NotificationsConfig, SchedulesConfig, load_config
from personalize_pipeline.monitors import (
    IntervalStats,
    alert,
    check_coverage,
    check_volume,
    coverage_problems,
    freshness_problems,
    interval_stats,
    volume_problems,
)

RULES = MonitoringConfig(volume_factor=3.0, unknown_items_max_share=0.2, coverage_factor=1.5)
TRAILING = [IntervalStats("2026-07", 1000, 100, 50), IntervalStats("2026-08", 1200, 110, 60)]


def _config(topic: str | None = None, **update):
    cfg = load_config()
    return cfg.model_copy(update={"notifications": NotificationsConfig(sns_topic_arn=topic), **update})


# --- volume ---------------------------------------------------------------------------------------


def test_normal_volume_is_quiet():
    assert volume_problems(IntervalStats("2026-09", 1500, 90, 70, 0.05), TRAILING, RULES) == []


def test_a_volume_jump_and_a_drop_each_name_the_numbers():
    problems = volume_problems(IntervalStats("2026-09", 4000, 30, 55), TRAILING, RULES)
    assert [p.subject for p in problems] == [
        "interactions of 2026-09 changed 3.64x",
        "users of 2026-09 changed 0.29x",
    ]
    assert problems[0].message == (
        "Interactions partition 2026-09: 4,000 interactions, 3.64x the mean 1,100 of the 2 interval(s) "
        "before it (2026-07, 2026-08); allowed factor 3."
    )


def test_too_many_unknown_items_fires_even_without_history():
    (problem,) = volume_problems(IntervalStats("2026-09", 1000, 100, 50, 0.25), [], RULES)
    assert problem.monitor == "unknown_items"
    assert "25.0% of 1,000 interactions are on items missing from the items snapshot" in problem.message


def test_interval_stats_counts_distinct_users_items_and_unknown_share():
    csv = b"USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\nu1,i1,view,1\nu1,i2,view,2\nu2,i9,view,3\nu3,i1,view,4\n"
    assert interval_stats(csv, "x", {"i1", "i2"}) == IntervalStats("x", 4, 3, 3, 0.25)


def _partition(rows: int, users: int, items: int) -> str:
    lines = ["USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP"]
    lines += [f"u{i % users},i{i % items},view,{1_700_000_000 + i}" for i in range(rows)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def exports(pipeline_env, aws_clients):
    """A pipeline writing to a fresh prefix; puts its interactions partitions and items snapshot."""
    from personalize_pipeline.config import S3Config

    s3, bucket = aws_clients("s3"), pipeline_env["bucket"]
    prefix = f"monitor-tests/{uuid.uuid4().hex[:8]}"

    def put(partitions: dict[str, str], items: list[str]) -> str:
        for label, body in partitions.items():
            s3.put_object(
                Bucket=bucket, Key=f"{prefix}/datasets/interactions/{label}.csv", Body=body.encode()
            )
        snapshot = "ITEM_ID,CATEGORY\n" + "".join(f"{i},c\n" for i in items)
        s3.put_object(Bucket=bucket, Key=f"{prefix}/datasets/items/last.csv", Body=snapshot.encode())
        return f"s3://{bucket}/{prefix}/datasets/items/last.csv"

    return S3Config(bucket=bucket, prefix=prefix), put


def _plan(partitions: list[str], items_uri: str) -> dict:
    return {"partitions": partitions, "snapshots": {"items": items_uri}}


def test_check_volume_reads_the_partitions_and_alerts_once_per_problem(exports, subscribed):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    s3_config, put = exports
    topic, received = subscribed
    cfg = _config(topic, s3=s3_config)
    items = put(
        {
            "2026-07-01T0000": _partition(1000, 100, 50),
            "2026-08-01T0000": _partition(1100, 100, 50),
            "2026-09-01T0000": _partition(5000, 100, 80),  # 4.8x the interactions; 30 new items
        },
        items=[f"i{i}" for i in range(50)],
    )
    problems = check_volume(cfg, S3Hook(aws_conn_id="aws_default"), _plan(["2026-09-01T0000"], items))
    assert [p.monitor for p in problems] == ["volume", "unknown_items"]
    assert "5,000 interactions, 4.76x the mean 1,050" in problems[0].message
    assert alert(cfg, problems) == 2
    messages = received() + received()
    assert sorted(m["Subject"] for m in messages) == sorted(
        f"Personalize {cfg.name}: {p.subject}" for p in problems
    )
    assert {m["MessageAttributes"]["monitor"]["Value"] for m in messages} == {"volume", "unknown_items"}


def test_check_volume_is_quiet_on_normal_data(exports, subscribed):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    s3_config, put = exports
    topic, received = subscribed
    cfg = _config(topic, s3=s3_config)
    items = put(
        {f"2026-0{m}-01T0000": _partition(1000 + 50 * m, 100, 50) for m in (6, 7, 8, 9)},
        items=[f"i{i}" for i in range(50)],
    )
    problems = check_volume(cfg, S3Hook(aws_conn_id="aws_default"), _plan(["2026-09-01T0000"], items))
    assert problems == []
    assert alert(cfg, problems) == 0
    assert received() == []


# --- coverage ----------------------------------------------------------------------------------------


def test_coverage_drop_beyond_the_factor_alerts_a_small_drop_does_not():
    before = {
        "load_id": 1,
        "active_customers": 100,
        "covered_customers": 90,
        "catalogue": 50,
        "covered_items": 40,
    }
    small = {**before, "load_id": 2, "covered_customers": 70}  # 90% -> 70%: within 1.5x
    assert coverage_problems("user_recommendations", small, before, RULES) == []
    assert coverage_problems("user_recommendations", small, None, RULES) == []  # first load
    big = {**before, "load_id": 2, "covered_customers": 50, "covered_items": 10}
    problems = coverage_problems("user_recommendations", big, before, RULES)
    assert [p.subject for p in problems] == [
        "user_recommendations covers 50.0% of active customers (was 90.0%)",
        "user_recommendations covers 20.0% of catalogue (was 80.0%)",
    ]
    assert problems[0].message.startswith(
        "Cache user_recommendations, load 2: 50 of 100 active customers (50.0%); the previous load 1 "
        "covered 90 of 100 (90.0%)."
    )


@pytest.fixture
def store(pipeline_env):
    """The tiny store, and the end of its history (the window's end)."""
    from devenv import datagen

    url = pipeline_env["database_url"]
    datagen.load(url, datagen.generate("tiny"))
    with psycopg.connect(url) as conn:
        end = conn.execute("SELECT max(occurred_at) + interval '1 day' FROM store.events").fetchone()[0]
    return url, end


def _load(url: str, schema: str, load_id: int, customers_share: float) -> dict:
    """A crafted snapshot and the cache's view on it, as a load leaves them."""
    table = f"user_recommendations__load_{load_id}"
    with psycopg.connect(url) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.execute(
            f"CREATE TABLE {schema}.{table} AS SELECT c.customer_id AS user_id, "
            "(SELECT array_agg(product_id ORDER BY product_id) FROM store.products) AS item_ids "
            f"FROM store.customers c WHERE abs(hashtext(c.customer_id)) % 100 < {customers_share * 100}"
        )
        conn.execute(
            f"CREATE OR REPLACE VIEW {schema}.user_recommendations AS SELECT s.user_id, r.rank, r.item_id "
            f"FROM {schema}.{table} s CROSS JOIN LATERAL unnest(s.item_ids) WITH ORDINALITY r(item_id, rank)"
        )
    return {"load_id": load_id, "snapshot_table": table}


def test_check_coverage_measures_keeps_and_compares_with_the_previous_load(store):
    url, end = store
    schema = f"coverage_{uuid.uuid4().hex[:8]}"
    cfg = _config(cache_schema=schema)
    args = {"cache": "user_recommendations", "per_user": True, "item_column": "item_id", "end": end}
    assert check_coverage(cfg, load=_load(url, schema, 1, 1.0), **args) == []
    assert check_coverage(cfg, load=_load(url, schema, 2, 0.95), **args) == []  # normal churn
    (problem,) = check_coverage(cfg, load=_load(url, schema, 3, 0.2), **args)
    assert problem.subject.startswith("user_recommendations covers ")
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"SELECT load_id, active_customers, covered_customers, catalogue, covered_items "
            f"FROM {schema}.cache_coverage ORDER BY load_id"
        ).fetchall()
        active = conn.execute(
            "SELECT count(*) FROM (SELECT customer_id FROM store.events WHERE occurred_at >= %(s)s "
            "AND occurred_at < %(e)s UNION SELECT customer_id FROM store.orders WHERE ordered_at >= %(s)s "
            "AND ordered_at < %(e)s) a",
            {"s": end - timedelta(days=90), "e": end},
        ).fetchone()[0]
        products = conn.execute("SELECT count(*) FROM store.products").fetchone()[0]
    assert [r[0] for r in rows] == [1, 2, 3]
    assert rows[0][1:] == (active, active, products, products)
    assert f"of {active:,} active customers" in problem.message


# --- freshness ---------------------------------------------------------------------------------------

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def _live(name: str, days_old: float) -> dict:
    return {"cache_name": name, "load_id": 7, "finished_at": NOW - timedelta(days=days_old)}


def test_a_cache_older_than_the_schedule_allows_alerts():
    cfg = _config()  # weekly UPDATE retraining, grace 1.5: at most 10.5 days
    problems = freshness_problems(cfg, [_live("user_recommendations", 12), _live("popular_items", 2)], NOW)
    (problem,) = problems
    assert problem.subject == "user_recommendations is 12.0 days old"
    assert "retraining runs every 7 days, so it may be at most 10.5 days old (grace 1.5)" in problem.message


def test_fresh_caches_other_pipelines_caches_and_manual_schedules_are_quiet():
    cfg = _config()
    assert freshness_problems(cfg, [_live("user_recommendations", 10)], NOW) == []
    assert freshness_problems(cfg, [_live("someone_elses_cache", 99)], NOW) == []
    manual = cfg.model_copy(update={"schedules": SchedulesConfig(full_retrain=None, update_retrain=None)})
    assert freshness_problems(manual, [_live("user_recommendations", 99)], NOW) == []


def test_the_retraining_stops_naming_the_numbers_unless_overridden(exports, pipelines_dir, tmp_path):
    """The DAG's check_data task: fails before any import, or lets the run through when overridden."""
    import yaml
    from airflow.sdk.exceptions import AirflowFailException

    from personalize_pipeline.config import DEFAULT_PATH
    from personalize_pipeline.dags.retrain_tasks import check_data

    s3_config, put = exports
    items = put(
        {"2026-08-01T0000": _partition(1000, 100, 50), "2026-09-01T0000": _partition(200, 100, 50)},
        items=[f"i{i}" for i in range(50)],
    )
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw["s3"] = s3_config.model_dump()
    plan = _plan(["2026-09-01T0000"], items)
    with pipelines_dir({"personalize": raw}, tmp_path):
        with pytest.raises(AirflowFailException) as stopped:
            check_data.function("personalize", plan, {"override_monitors": False})
        passed = check_data.function("personalize", plan, {"override_monitors": True})
    assert "nothing was imported" in str(stopped.value)
    assert "200 interactions, 0.20x the mean 1,000 of the 1 interval(s) before it" in str(stopped.value)
    assert passed["overridden"] is True and len(passed["problems"]) == 1
