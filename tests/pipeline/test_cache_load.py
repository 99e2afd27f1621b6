"""Cache loads are atomic: a load that fails midway leaves the live cache as it was; rollback works."""

from __future__ import annotations

import json
import threading
import uuid

import psycopg
import pyarrow as pa
import pytest

from personalize_pipeline.cache import load_batch_output, rollback

SCHEMA = "cache_tests"
LINEAGE = {"dag_id": "tests", "run_id": "r", "batch_job_arn": "arn:job", "solution_version_arn": "arn:sv"}


def _line(user: str, items: list[str]) -> str:
    scores = [round(1 / (i + 2), 4) for i in range(len(items))]
    return json.dumps(
        {"input": {"userId": user}, "output": {"recommendedItems": items, "scores": scores}, "error": None}
    )


def _load(uri: str, cache: str):
    return load_batch_output(
        db_conn_id="store_db",
        aws_conn_id="aws_default",
        output_uri=uri,
        schema=SCHEMA,
        cache_name=cache,
        recipe_type="USER_PERSONALIZATION",
        lineage=LINEAGE,
    )


def _rows(url: str, cache: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT user_id, rank, item_id FROM {SCHEMA}.{cache} ORDER BY 1, 2").fetchall()


def _snapshot_tables(url: str, cache: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = %s AND table_name LIKE %s",
                (SCHEMA, f"{cache}__load_%"),
            )
        }


def _statuses(url: str, cache: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [
            r[0]
            for r in conn.execute(
                f"SELECT status FROM {SCHEMA}.cache_loads WHERE cache_name = %s ORDER BY load_id", (cache,)
            )
        ]


def test_failure_in_the_middle_of_a_load_leaves_the_live_cache_intact(put, pipeline_env):
    url, cache = pipeline_env["database_url"], f"recs_{uuid.uuid4().hex[:6]}"
    first = _load(put("one", {"users.json.out": [_line("u1", ["a", "b"]), _line("u2", ["c", "d"])]}), cache)
    assert (first.rows, first.keys, first.errors) == (4, 2, 0)
    before = _rows(url, cache)
    assert before == [("u1", 1, "a"), ("u1", 2, "b"), ("u2", 1, "c"), ("u2", 2, "d")]

    good = [_line(f"n{i}", ["x", "y"]) for i in range(5000)]
    broken = [
        _line("m1", ["z"]),
        '{"input": {"userId": "m2"}, "output": {"recommendedItems": ["z"',
        _line("m3", ["z"]),
    ]
    # Files load in name order: a.out is copied in full before b.out breaks the load.
    with pytest.raises(pa.ArrowInvalid, match="JSON parse error"):
        _load(put("two", {"a.out": good, "b.out": broken}), cache)

    assert _rows(url, cache) == before
    assert _statuses(url, cache) == ["live", "failed"]
    # The failed snapshot's table, filled with a.out's 5000 lines, went with its transaction.
    assert _snapshot_tables(url, cache) == {first.snapshot_table}


def test_error_lines_are_counted_not_fatal_and_rollback_serves_the_previous_snapshot(put, pipeline_env):
    url, cache = pipeline_env["database_url"], f"recs_{uuid.uuid4().hex[:6]}"
    _load(put("one", {"in.json.out": [_line("u1", ["a"])]}), cache)
    error_line = json.dumps({"input": {"userId": "u9"}, "output": None, "error": "unknown user"})
    second = _load(put("two", {"in.json.out": [_line("u1", ["b"]), _line("u2", ["c"]), error_line]}), cache)
    assert (second.rows, second.keys, second.errors) == (2, 2, 1)
    assert _rows(url, cache) == [("u1", 1, "b"), ("u2", 1, "c")]

    rollback(db_conn_id="store_db", schema=SCHEMA, cache_name=cache)
    assert _rows(url, cache) == [("u1", 1, "a")]
    assert _statuses(url, cache) == ["live", "rolled_back"]
    with pytest.raises(LookupError, match="no previous snapshot"):
        rollback(db_conn_id="store_db", schema=SCHEMA, cache_name=cache)


def test_rollbacks_walk_back_through_the_kept_snapshots_newest_first(put, pipeline_env):
    url, cache = pipeline_env["database_url"], f"recs_{uuid.uuid4().hex[:6]}"
    loads = [_load(put(f"load{i}", {"in.json.out": [_line("u1", [f"item{i}"])]}), cache) for i in range(3)]
    assert _rows(url, cache) == [("u1", 1, "item2")]

    assert rollback(db_conn_id="store_db", schema=SCHEMA, cache_name=cache) == loads[1].load_id
    assert _rows(url, cache) == [("u1", 1, "item1")]
    assert _statuses(url, cache) == ["previous", "live", "rolled_back"]

    assert rollback(db_conn_id="store_db", schema=SCHEMA, cache_name=cache) == loads[0].load_id
    assert _rows(url, cache) == [("u1", 1, "item0")]
    assert _statuses(url, cache) == ["live", "rolled_back", "rolled_back"]
    with pytest.raises(LookupError, match="no previous snapshot"):
        rollback(db_conn_id="store_db", schema=SCHEMA, cache_name=cache)
    assert _rows(url, cache) == [("u1", 1, "item0")]


def test_only_the_newest_snapshots_are_kept(put, pipeline_env):
    url, cache = pipeline_env["database_url"], f"recs_{uuid.uuid4().hex[:6]}"
    for i in range(5):
        _load(put(f"load{i}", {"in.json.out": [_line("u1", [f"item{i}"])]}), cache)
    assert len(_snapshot_tables(url, cache)) == 3
    assert _statuses(url, cache) == ["dropped", "dropped", "previous", "previous", "live"]
    assert _rows(url, cache) == [("u1", 1, "item4")]


def test_rollback_dag_serves_the_previous_snapshot(put, pipeline_env, pipelines_dir, tmp_path):
    import yaml
    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT
    from personalize_pipeline.config import DEFAULT_PATH

    url, cache = pipeline_env["database_url"], f"recs_{uuid.uuid4().hex[:6]}"
    _load(put("one", {"in.json.out": [_line("u1", ["old"])]}), cache)
    _load(put("two", {"in.json.out": [_line("u1", ["new"])]}), cache)
    # The DAG offers only its pipeline's own caches: a pipeline whose user cache is this one.
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw["cache_schema"] = SCHEMA
    raw["solutions"]["user-personalization"]["output"]["cache_table"] = cache
    with pipelines_dir({"personalize": raw}, tmp_path):
        dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).get_dag("personalize_cache_rollback")
        run = dag.test(run_conf={"cache_name": cache})
    assert str(run.state) == "success"
    assert _rows(url, cache) == [("u1", 1, "old")]


def test_readers_see_one_whole_snapshot_while_loads_swap_and_fail(put, pipeline_env):
    """A reader querying the view throughout sees every row of exactly one load, never a mix or none."""
    url, cache = pipeline_env["database_url"], f"recs_{uuid.uuid4().hex[:6]}"
    users, per_user = 300, 4

    def generation(g: int, broken: bool = False) -> str:
        lines = [_line(f"u{u}", [f"g{g}-i{k}" for k in range(per_user)]) for u in range(users)]
        files = {"a.out": lines}
        if broken:  # the whole of a.out is copied before b.out breaks the load
            files["b.out"] = ['{"input": {"userId": "x"}, "output": {"recommendedItems": ["z"']
        return put(f"gen{g}", files)

    _load(generation(0), cache)
    done, seen, problems = threading.Event(), [], []

    def read() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not done.is_set():
                items = [r[0] for r in conn.execute(f"SELECT item_id FROM {SCHEMA}.{cache}")]
                generations = {item.split("-")[0] for item in items}
                seen.append(generations)
                if len(items) != users * per_user or len(generations) != 1:
                    problems.append((len(items), sorted(generations)))

    reader = threading.Thread(target=read, name="cache reader")
    reader.start()
    try:
        for g in range(1, 5):
            if g % 2:
                _load(generation(g), cache)
            else:
                with pytest.raises(pa.ArrowInvalid, match="JSON parse error"):
                    _load(generation(g, broken=True), cache)
    finally:
        done.set()
        reader.join()
    assert not problems, f"{len(problems)} bad reads, first: {problems[:3]}"
    served = set().union(*seen)
    assert {"g1", "g3"} <= served and not served & {"g2", "g4"}, served
    # Failed loads never went live; the next good load drops their bookkeeping with the old snapshots.
    assert _statuses(url, cache) == ["previous", "previous", "dropped", "live", "failed"]


def test_a_load_left_loading_by_a_dead_session_is_failed_by_the_next_but_a_running_one_is_not(
    put, pipeline_env
):
    from personalize_pipeline.sql_files import read_sql

    url, cache = pipeline_env["database_url"], f"recs_{uuid.uuid4().hex[:6]}"
    _load(put("one", {"in.json.out": [_line("u1", ["a"])]}), cache)
    other = psycopg.connect(url, autocommit=True)  # another worker's load of the same cache, running
    with other.transaction():
        load_id = other.execute(
            f"INSERT INTO {SCHEMA}.cache_loads (cache_name, snapshot_table, status) "
            "VALUES (%s, '', 'loading') RETURNING load_id",
            (cache,),
        ).fetchone()[0]
        other.execute(
            read_sql("cache/hold_load.sql"), {"lock_space": f"{SCHEMA}.cache_loads", "load_id": load_id}
        )
    _load(put("two", {"in.json.out": [_line("u1", ["b"])]}), cache)
    assert _statuses(url, cache) == ["previous", "loading", "live"]

    other.close()  # its session ends without recording how the load went
    _load(put("three", {"in.json.out": [_line("u1", ["c"])]}), cache)
    assert _statuses(url, cache) == ["previous", "dropped", "previous", "live"]
    with psycopg.connect(url) as conn:
        reason = conn.execute(
            f"SELECT failure_reason FROM {SCHEMA}.cache_loads WHERE load_id = %s", (load_id,)
        ).fetchone()[0]
    assert reason.startswith("abandoned")
