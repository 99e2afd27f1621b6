"""Every batch output kind loads into its own snapshot layout, with lineage, atomically."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import psycopg
import pyarrow as pa
import pytest

from personalize_pipeline.cache import load_batch_output, rollback

SCHEMA = "caches_tests"
START, END = datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC)
LINEAGE = {
    "dag_id": "tests",
    "run_id": "r1",
    "batch_job_arn": "arn:job",
    "solution_version_arn": "arn:sv",
    "data_interval_start": START,
    "data_interval_end": END,
    "metrics": {"precision_at_10": 0.25, "coverage": 0.5},
    "input_count": 3,
}
LAYOUTS = {
    "USER_PERSONALIZATION": ("user_id", "rank", "item_id", "score"),
    "RELATED_ITEMS": ("item_id", "rank", "similar_item_id", "score"),
    "USER_SEGMENTATION": ("item_id", "rank", "user_id"),
}


def _sims(item: str, similar: list[str], scores: bool = True) -> str:
    output: dict = {"recommendedItems": similar}
    if scores:
        output["scores"] = [round(1 / (i + 2), 4) for i in range(len(similar))]
    return json.dumps({"input": {"itemId": item}, "output": output, "error": None})


def _segment(item: str, users: list[str], field: str = "recommendedUsers") -> str:
    return json.dumps({"input": {"itemId": item}, "output": {field: users}})


def _user(user: str, items: list[str]) -> str:
    scores = [round(1 / (i + 2), 4) for i in range(len(items))]
    return json.dumps({"input": {"userId": user}, "output": {"recommendedItems": items, "scores": scores}})


def _load(uri: str, cache: str, recipe_type: str, lineage: dict | None = None):
    return load_batch_output(
        db_conn_id="store_db",
        aws_conn_id="aws_default",
        output_uri=uri,
        schema=SCHEMA,
        cache_name=cache,
        recipe_type=recipe_type,
        keep_snapshots=3,
        lineage=lineage or LINEAGE,
    )


def _rows(url: str, cache: str, recipe_type: str) -> list[tuple]:
    columns = ", ".join(LAYOUTS[recipe_type])
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT {columns} FROM {SCHEMA}.{cache} ORDER BY 1, 2").fetchall()


def _primary_key(url: str, table: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT a.attname FROM pg_index i "
                "JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                "WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY k.n",
                (f"{SCHEMA}.{table}",),
            )
        ]


def test_similar_items_load_with_their_layout_primary_key_and_lineage(put, pipeline_env):
    url, cache = pipeline_env["database_url"], f"sims_{uuid.uuid4().hex[:6]}"
    error_line = json.dumps({"input": {"itemId": "p9"}, "output": None, "error": "Item p9 is unknown."})
    uri = put("one", {"items.json.out": [_sims("p1", ["p2", "p3"]), _sims("p2", ["p1"]), error_line]})
    result = _load(uri, cache, "RELATED_ITEMS")

    assert (result.rows, result.keys, result.errors) == (3, 2, 1)
    assert _rows(url, cache, "RELATED_ITEMS") == [
        ("p1", 1, "p2", 0.5),
        ("p1", 2, "p3", 0.3333),
        ("p2", 1, "p1", 0.5),
    ]
    assert _primary_key(url, result.snapshot_table) == ["item_id"]
    with psycopg.connect(url) as conn:
        record = conn.execute(
            f"SELECT kind, status, dag_id, run_id, source_uri, batch_job_arn, solution_version_arn, "
            "data_interval_start, data_interval_end, metrics, input_count, row_count, key_count, "
            f"error_count FROM {SCHEMA}.cache_loads WHERE load_id = %s",
            (result.load_id,),
        ).fetchone()
    assert record == (
        "RELATED_ITEMS",
        "live",
        "tests",
        "r1",
        uri,
        "arn:job",
        "arn:sv",
        START,
        END,
        {"precision_at_10": 0.25, "coverage": 0.5},
        3,
        3,
        2,
        1,
    )


def test_similar_items_without_scores_load_null_scores(put, pipeline_env):
    url, cache = pipeline_env["database_url"], f"sims_{uuid.uuid4().hex[:6]}"
    uri = put("one", {"a.out": [_sims("p1", ["p2", "p3"], scores=False), _sims("p2", ["p4"])]})
    _load(uri, cache, "RELATED_ITEMS")
    assert _rows(url, cache, "RELATED_ITEMS") == [
        ("p1", 1, "p2", None),
        ("p1", 2, "p3", None),
        ("p2", 1, "p4", 0.5),
    ]


def test_item_affinity_segments_load_users_in_rank_order(put, pipeline_env):
    url, cache = pipeline_env["database_url"], f"segs_{uuid.uuid4().hex[:6]}"
    uri = put(
        "one",
        {
            "items.json.out": [
                _segment("p1", ["u3", "u1", "u2"]),
                _segment("p2", ["u2"], field="usersList"),
                _segment("p3", []),
            ]
        },
    )
    result = _load(uri, cache, "USER_SEGMENTATION", {**LINEAGE, "batch_job_arn": "arn:segment-job"})

    assert (result.rows, result.keys, result.errors) == (4, 2, 0)
    assert _rows(url, cache, "USER_SEGMENTATION") == [
        ("p1", 1, "u3"),
        ("p1", 2, "u1"),
        ("p1", 3, "u2"),
        ("p2", 1, "u2"),
    ]
    assert _primary_key(url, result.snapshot_table) == ["item_id"]
    with psycopg.connect(url) as conn:
        assert conn.execute(
            f"SELECT kind, batch_job_arn FROM {SCHEMA}.cache_loads WHERE load_id = %s", (result.load_id,)
        ).fetchone() == ("USER_SEGMENTATION", "arn:segment-job")


def test_user_recommendations_keep_their_layout_and_optional_lineage(put, pipeline_env):
    url, cache = pipeline_env["database_url"], f"recs_{uuid.uuid4().hex[:6]}"
    minimal = {"dag_id": "tests", "run_id": "r", "batch_job_arn": None, "solution_version_arn": None}
    result = _load(put("one", {"u.out": [_user("u1", ["a", "b"])]}), cache, "USER_PERSONALIZATION", minimal)
    assert _rows(url, cache, "USER_PERSONALIZATION") == [("u1", 1, "a", 0.5), ("u1", 2, "b", 0.3333)]
    assert _primary_key(url, result.snapshot_table) == ["user_id"]
    with psycopg.connect(url) as conn:
        assert conn.execute(
            f"SELECT kind, metrics, input_count, data_interval_end FROM {SCHEMA}.cache_loads "
            "WHERE load_id = %s",
            (result.load_id,),
        ).fetchone() == ("USER_PERSONALIZATION", None, None, None)


@pytest.mark.parametrize(
    ("recipe_type", "good", "broken"),
    [
        (
            "RELATED_ITEMS",
            lambda i: _sims(f"n{i}", ["x", "y"]),
            '{"input": {"itemId": "m2"}, "output": {"recommendedItems": ["z"',
        ),
        (
            "USER_SEGMENTATION",
            lambda i: _segment(f"n{i}", ["x", "y"]),
            '{"input": {"itemId": "m2"}, "output": {"recommendedUsers": ["z"',
        ),
    ],
)
def test_a_broken_file_leaves_the_previous_snapshot_live_and_intact(
    put, pipeline_env, recipe_type, good, broken
):
    url, cache = pipeline_env["database_url"], f"atomic_{uuid.uuid4().hex[:6]}"
    make = _sims if recipe_type == "RELATED_ITEMS" else _segment
    first = _load(put("one", {"a.out": [make("p1", ["p2", "p3"])]}), cache, recipe_type)
    before = _rows(url, cache, recipe_type)
    assert len(before) == 2

    # Files load in name order: a.out is copied in full before b.out breaks the load.
    with pytest.raises(pa.ArrowInvalid, match="JSON parse error"):
        _load(put("two", {"a.out": [good(i) for i in range(5000)], "b.out": [broken]}), cache, recipe_type)

    assert _rows(url, cache, recipe_type) == before
    with psycopg.connect(url) as conn:
        statuses = conn.execute(
            f"SELECT load_id, status FROM {SCHEMA}.cache_loads WHERE cache_name = %s ORDER BY load_id",
            (cache,),
        ).fetchall()
        leftovers = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name LIKE %s",
            (SCHEMA, f"{cache}__load_%"),
        ).fetchone()[0]
    assert [s for _, s in statuses] == ["live", "failed"]
    assert statuses[0][0] == first.load_id
    assert leftovers == 1  # the failed snapshot's table was rolled back with its transaction


def test_rollback_serves_the_previous_similar_items(put, pipeline_env):
    url, cache = pipeline_env["database_url"], f"sims_{uuid.uuid4().hex[:6]}"
    _load(put("one", {"a.out": [_sims("p1", ["old"])]}), cache, "RELATED_ITEMS")
    _load(put("two", {"a.out": [_sims("p1", ["new"])]}), cache, "RELATED_ITEMS")
    assert _rows(url, cache, "RELATED_ITEMS") == [("p1", 1, "new", 0.5)]
    rollback(db_conn_id="store_db", schema=SCHEMA, cache_name=cache)
    assert _rows(url, cache, "RELATED_ITEMS") == [("p1", 1, "old", 0.5)]


def test_an_old_cache_loads_table_gains_the_lineage_columns(put, pipeline_env):
    url, schema = pipeline_env["database_url"], f"old_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(url) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(
            f"CREATE TABLE {schema}.cache_loads (load_id bigserial PRIMARY KEY, cache_name text NOT NULL, "
            "snapshot_table text NOT NULL, status text NOT NULL, dag_id text, run_id text, source_uri text, "
            "batch_job_arn text, solution_version_arn text, row_count bigint, key_count bigint, "
            "error_count bigint, started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz)"
        )
        conn.execute(
            f"INSERT INTO {schema}.cache_loads (cache_name, snapshot_table, status) "
            "VALUES ('x', 'x1', 'live')"
        )
    result = load_batch_output(
        db_conn_id="store_db",
        aws_conn_id="aws_default",
        output_uri=put("one", {"a.out": [_sims("p1", ["p2"])]}),
        schema=schema,
        cache_name="similar",
        recipe_type="RELATED_ITEMS",
        lineage=LINEAGE,
    )
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"SELECT cache_name, kind, input_count FROM {schema}.cache_loads ORDER BY load_id"
        ).fetchall()
    assert rows == [("x", None, None), ("similar", "RELATED_ITEMS", 3)]
    assert result.rows == 1


def test_an_unknown_recipe_type_is_refused_before_any_work(pipeline_env):
    with pytest.raises(ValueError, match="unknown recipe type"):
        _load("s3://nowhere/x/", "c", "PERSONALIZED_RANKING")


def test_lines_split_across_download_chunks_load_whole(put, pipeline_env, monkeypatch):
    from personalize_pipeline import batch_output

    monkeypatch.setattr(batch_output, "BLOCK_BYTES", 1000)  # every line straddles some chunk boundary
    url, cache = pipeline_env["database_url"], f"recs_{uuid.uuid4().hex[:6]}"
    lines = [_user(f"u{i:04d}", [f"p{i}", f"q{i}", f"r{i}"]) for i in range(400)]
    result = _load(put("one", {"a.out": lines[:250], "b.out": lines[250:]}), cache, "USER_PERSONALIZATION")
    assert (result.rows, result.keys) == (1200, 400)
    rows = _rows(url, cache, "USER_PERSONALIZATION")
    assert rows[:3] == [("u0000", 1, "p0", 0.5), ("u0000", 2, "q0", 0.3333), ("u0000", 3, "r0", 0.25)]
    assert rows[-1] == ("u0399", 3, "r399", 0.25)


def test_snapshots_hold_one_row_per_key_and_ids_of_any_characters(put, pipeline_env):
    url, cache = pipeline_env["database_url"], f"recs_{uuid.uuid4().hex[:6]}"
    odd = ["a,b", '{"q"}', "NULL", "é ü 🙂", "x" * 256]
    lines = [
        _user("u1", odd),
        json.dumps(
            {"input": {"userId": "u2"}, "output": {"recommendedItems": ["a", "b"], "scores": [0.5, None]}}
        ),
        json.dumps({"input": {"userId": "u3"}, "output": {"recommendedItems": [], "scores": []}}),
    ]
    result = _load(put("one", {"u.out": lines}), cache, "USER_PERSONALIZATION")
    assert (result.rows, result.keys) == (7, 2)
    assert _rows(url, cache, "USER_PERSONALIZATION") == [
        *[("u1", rank, item, round(1 / (rank + 1), 4)) for rank, item in enumerate(odd, 1)],
        ("u2", 1, "a", 0.5),
        ("u2", 2, "b", None),
    ]
    with psycopg.connect(url) as conn:
        stored = conn.execute(
            f"SELECT user_id, cardinality(item_ids) FROM {SCHEMA}.{result.snapshot_table} ORDER BY 1"
        ).fetchall()
    assert stored == [("u1", 5), ("u2", 2)]  # the customer served nothing is not a row at all
