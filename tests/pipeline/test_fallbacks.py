"""Fallback lists computed from the store, and the cold-start lookup that serves them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg
import pytest
from airflow.providers.common.compat.sdk import AirflowNotFoundException

from devenv import datagen
from personalize_pipeline.cache import create_lookup_function, load_batch_output, load_fallback, rollback

SCHEMA = "fallback_tests"
AS_OF = datetime(2025, 12, 1, tzinfo=UTC)
DAYS = 7
LINEAGE = {"dag_id": "tests", "run_id": "r1"}
# product: (interactions in [as_of - 14d, as_of - 7d), in the recent window [as_of - 7d, as_of))
COUNTS = {"p1": (9, 10), "p2": (0, 4), "p3": (3, 8), "p4": (5, 1), "p5": (0, 0)}


def _store(counts: dict[str, tuple[int, int]]) -> dict[str, pd.DataFrame]:
    """A store where each product has the given interactions, alternating browsing events and order lines.

    p5 also has interactions outside both windows (before them, and exactly at as_of) that must not count.
    """
    when: list[tuple[str, datetime]] = []
    for product, (previous, recent) in counts.items():
        when += [(product, AS_OF - timedelta(days=13, hours=i)) for i in range(previous)]
        when += [(product, AS_OF - timedelta(days=6, hours=i)) for i in range(recent)]
    when += [("p5", AS_OF - timedelta(days=20)), ("p5", AS_OF), ("p5", AS_OF + timedelta(hours=1))]
    events = [w for i, w in enumerate(when) if i % 2 == 0]
    lines = [w for i, w in enumerate(when) if i % 2 == 1]
    created = datetime(2025, 1, 1, tzinfo=UTC)
    return {
        "customers": pd.DataFrame(
            {"customer_id": ["c1"], "created_at": [created], "country": ["FR"], "age_band": ["25-34"]}
        ),
        "products": pd.DataFrame(
            {
                "product_id": list(counts),
                "name": list(counts),
                "category": "toys",
                "price": 1.5,
                "created_at": created,
            }
        ),
        "orders": pd.DataFrame(
            {
                "order_id": [f"o{i}" for i in range(len(lines))],
                "customer_id": "c1",
                "ordered_at": [t for _, t in lines],
            }
        ),
        "order_items": pd.DataFrame(
            {
                "order_id": [f"o{i}" for i in range(len(lines))],
                "line_no": 1,
                "product_id": [p for p, _ in lines],
                "quantity": 1,
                "unit_price": 1.5,
            }
        ),
        "events": pd.DataFrame(
            {
                "event_id": range(1, len(events) + 1),
                "customer_id": "c1",
                "product_id": [p for p, _ in events],
                "event_type": "view",
                "occurred_at": [t for _, t in events],
            }
        ),
    }


@pytest.fixture
def store(pipeline_env):
    """The hand-made store (replaces the store tables' contents)."""
    datagen.load(pipeline_env["database_url"], _store(COUNTS))
    return pipeline_env["database_url"]


def _fallback(cache: str, kind: str, size: int = 100, as_of: datetime = AS_OF, source: str = "store_db"):
    return load_fallback(
        source_conn_id=source,
        cache_conn_id="store_db",
        schema=SCHEMA,
        cache_name=cache,
        kind=kind,
        days=DAYS,
        size=size,
        as_of=as_of,
        keep_snapshots=3,
        lineage=LINEAGE,
    )


def _rows(url: str, cache: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"SELECT rank, item_id, round(score::numeric, 4)::float8 FROM {SCHEMA}.{cache} ORDER BY 1"
        ).fetchall()


def _record(url: str, load_id: int) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"SELECT kind, status, dag_id, data_interval_start, data_interval_end, row_count, source_uri "
            f"FROM {SCHEMA}.cache_loads WHERE load_id = %s",
            (load_id,),
        ).fetchone()


def test_popular_counts_events_and_order_lines_in_the_window(store):
    cache = f"popular_{uuid.uuid4().hex[:6]}"
    result = _fallback(cache, "popular")
    assert _rows(store, cache) == [(1, "p1", 10), (2, "p3", 8), (3, "p2", 4), (4, "p4", 1)]
    assert (result.rows, result.keys, result.errors) == (4, 4, 0)
    kind, status, dag_id, start, end, rows, source = _record(store, result.load_id)
    assert (kind, status, dag_id, start, end, rows) == (
        "popular",
        "live",
        "tests",
        AS_OF - timedelta(days=7),
        AS_OF,
        4,
    )
    assert source.endswith("fallback/popular.sql")


def test_popular_list_is_cut_at_size(store):
    cache = f"popular_{uuid.uuid4().hex[:6]}"
    _fallback(cache, "popular", size=2)
    assert _rows(store, cache) == [(1, "p1", 10), (2, "p3", 8)]


def test_trending_ranks_growth_against_the_previous_window(store):
    cache = f"trending_{uuid.uuid4().hex[:6]}"
    result = _fallback(cache, "trending")
    # (recent - previous) / sqrt(previous + 1): p2 4/1, p3 5/2, p1 1/sqrt(10); p4 shrank, p5 is outside.
    assert _rows(store, cache) == [(1, "p2", 4), (2, "p3", 2.5), (3, "p1", 0.3162)]
    start, end = _record(store, result.load_id)[3:5]
    assert (start, end) == (AS_OF - timedelta(days=14), AS_OF)


def test_rollback_serves_the_previous_fallback_list(store):
    cache = f"popular_{uuid.uuid4().hex[:6]}"
    _fallback(cache, "popular")
    before = _rows(store, cache)
    _fallback(cache, "popular", as_of=AS_OF - timedelta(days=7))  # the previous window: p1 9, p4 5, p3 3
    assert _rows(store, cache) == [(1, "p1", 9), (2, "p4", 5), (3, "p3", 3)]
    rollback(db_conn_id="store_db", schema=SCHEMA, cache_name=cache)
    assert _rows(store, cache) == before


def test_a_failed_fallback_load_leaves_the_live_list(store):
    cache = f"popular_{uuid.uuid4().hex[:6]}"
    first = _fallback(cache, "popular")
    with pytest.raises(AirflowNotFoundException, match="no_such_connection"):
        _fallback(cache, "popular", as_of=AS_OF - timedelta(days=7), source="no_such_connection")
    assert _rows(store, cache)[0] == (1, "p1", 10)
    with psycopg.connect(store) as conn:
        statuses = conn.execute(
            f"SELECT load_id, status FROM {SCHEMA}.cache_loads WHERE cache_name = %s ORDER BY load_id",
            (cache,),
        ).fetchall()
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_name LIKE %s",
            (SCHEMA, f"{cache}__load_%"),
        ).fetchall()
    assert statuses[0] == (first.load_id, "live")
    assert [s for _, s in statuses[1:]] == ["failed"]
    assert tables == [(first.snapshot_table,)]  # the failed load's table went with its transaction


def test_unknown_fallback_kind_is_refused(pipeline_env):
    with pytest.raises(ValueError, match="unknown fallback kind"):
        _fallback("x", "newest")


@pytest.fixture
def lookup(store, put_user_output):
    """User recommendations for u1 and u2, a popular list, and the lookup function over both."""
    suffix = uuid.uuid4().hex[:6]
    user_cache, popular_cache = f"user_recs_{suffix}", f"popular_{suffix}"
    lines = [
        json.dumps({"input": {"userId": u}, "output": {"recommendedItems": items, "scores": [0.9, 0.8, 0.7]}})
        for u, items in (("u1", ["p3", "p4", "p5"]), ("u2", ["p1", "p2", "p3"]))
    ]
    load_batch_output(
        db_conn_id="store_db",
        aws_conn_id="aws_default",
        output_uri=put_user_output(lines),
        schema=SCHEMA,
        cache_name=user_cache,
        recipe_type="USER_PERSONALIZATION",
        lineage=LINEAGE,
    )
    _fallback(popular_cache, "popular")
    function = create_lookup_function(
        db_conn_id="store_db",
        schema=SCHEMA,
        user_cache=user_cache,
        popular_cache=popular_cache,
        function_name=f"recommendations_for_{suffix}",
    )
    return function, user_cache


@pytest.fixture
def put_user_output(pipeline_env, aws_clients):
    s3, bucket = aws_clients("s3"), pipeline_env["bucket"]

    def put(lines: list[str]) -> str:
        prefix = f"fallback-tests/{uuid.uuid4().hex[:8]}"
        s3.put_object(Bucket=bucket, Key=f"{prefix}/users.json.out", Body="\n".join(lines).encode())
        return f"s3://{bucket}/{prefix}/"

    return put


def test_known_users_get_their_personalized_rows(lookup, store):
    function, _ = lookup
    with psycopg.connect(store) as conn:
        rows = conn.execute(f"SELECT * FROM {function}(%s, %s)", ("u1", 2)).fetchall()
        default_limit = conn.execute(f"SELECT count(*) FROM {function}('u2')").fetchone()[0]
    assert rows == [(1, "p3", 0.9, "personalized"), (2, "p4", 0.8, "personalized")]
    assert default_limit == 3


def test_unknown_users_get_the_popular_list(lookup, store):
    function, _ = lookup
    with psycopg.connect(store) as conn:
        rows = conn.execute(f"SELECT * FROM {function}(%s, %s)", ("new-customer", 3)).fetchall()
    assert rows == [(1, "p1", 10.0, "popular"), (2, "p3", 8.0, "popular"), (3, "p2", 4.0, "popular")]


def test_the_lookup_reads_the_primary_key_index(lookup, store):
    function, user_cache = lookup
    with psycopg.connect(store) as conn:
        conn.execute("SET enable_seqscan = off")  # the tables are tiny: ask whether the index can serve it
        plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN SELECT * FROM {function}('u1', 10)"))
        snapshot = conn.execute(
            f"SELECT snapshot_table FROM {SCHEMA}.cache_loads WHERE cache_name = %s AND status = 'live'",
            (user_cache,),
        ).fetchone()[0]
    # Inlined into the caller's query: the plan shows the scan itself, on the snapshot's primary key
    # (then the unnest of that one row's arrays), never a call of the function.
    assert f"Index Scan using {snapshot}_pkey" in plan
    assert f"Function Scan on {function.split('.')[-1]}" not in plan, plan


def test_item_batch_input_names_every_product_once(store, pipeline_env, aws_clients):
    from personalize_pipeline.batch_input import export_json_lines

    key = f"fallback-tests/{uuid.uuid4().hex[:8]}/items.json"
    lines = export_json_lines(
        db_conn_id="store_db",
        aws_conn_id="aws_default",
        query_file="extract/batch_items.sql",
        column="item_id",
        json_key="itemId",
        params={},
        s3_uri=f"s3://{pipeline_env['bucket']}/{key}",
    )
    body = aws_clients("s3").get_object(Bucket=pipeline_env["bucket"], Key=key)["Body"].read().decode()
    assert lines == len(COUNTS)
    assert [json.loads(line) for line in body.splitlines()] == [{"itemId": p} for p in sorted(COUNTS)]
