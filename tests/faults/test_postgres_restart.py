"""
PostgreSQL restarted during a cache load. The load is held at its last step, repointing the
cache's view, by a reader's open transaction on that view; the server is then restarted
(``pg_ctl restart -m fast``: every session ends). Readers must see the old snapshot until the
retried load has swapped in the new one, never a part of it.
"""

from __future__ import annotations

import json
import os
import threading
import time

import psycopg
from fault_harness import BUCKET, Watcher, wait_until
from psycopg.conninfo import conninfo_to_dict

from personalize_pipeline.cache import load_batch_output

SCHEMA = "faults_restart"
CACHE = "user_recommendations"
LINEAGE = {"dag_id": "faults", "run_id": "r", "batch_job_arn": "arn:job", "solution_version_arn": "arn:sv"}


def _put_output(endpoint, folder: str, users: int, items: list[str]) -> str:
    lines = [
        json.dumps(
            {
                "input": {"userId": f"U{n:05d}"},
                "output": {"recommendedItems": items, "scores": [0.5] * len(items)},
                "error": None,
            }
        )
        for n in range(users)
    ]
    endpoint.client("s3").put_object(
        Bucket=BUCKET, Key=f"restart/{folder}/out.json.out", Body="\n".join(lines)
    )
    return f"s3://{BUCKET}/restart/{folder}/"


def _load(uri: str):
    return load_batch_output(
        db_conn_id="store_db",
        aws_conn_id="aws_default",
        output_uri=uri,
        schema=SCHEMA,
        cache_name=CACHE,
        recipe_type="USER_PERSONALIZATION",
        lineage=LINEAGE,
    )


def _restart_postgres(url: str) -> None:
    """Restart the embedded server with the options it was started with (its postmaster.opts)."""
    from pathlib import Path

    import pgserver

    data_dir = Path(conninfo_to_dict(url)["host"])  # the unix socket directory is the data directory
    user = "pgserver" if os.geteuid() == 0 else None
    pgserver.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=data_dir, user=user)


def test_postgres_restarted_during_a_cache_load(pipeline, endpoint, outcome, no_orphans):
    url = pipeline["database_url"]
    old = _put_output(endpoint, "old", 2_000, ["A", "B"])
    new = _put_output(endpoint, "new", 2_000, ["C", "D", "E"])
    _load(old)
    views: list[int] = []
    stop = threading.Event()

    def read_continuously() -> None:
        """Another reader: counts what the view shows, through the restart."""
        while not stop.is_set():
            try:
                with psycopg.connect(url, connect_timeout=2) as conn:
                    views.append(conn.execute(f"SELECT count(*) FROM {SCHEMA}.{CACHE}").fetchone()[0])
            except psycopg.OperationalError:
                time.sleep(0.1)  # the server is restarting

    holder = psycopg.connect(url)
    holder.execute(f"SELECT count(*) FROM {SCHEMA}.{CACHE}")  # holds the view until the restart
    load = Watcher(lambda: _load(new))
    reader = threading.Thread(target=read_continuously, daemon=True)
    reader.start()
    load.start()
    with psycopg.connect(url, autocommit=True) as watch:
        wait_until(
            lambda: watch.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND query ILIKE '%VIEW%'"
            ).fetchone()[0],
            timeout=120,
        )
    _restart_postgres(url)
    load.join(60)
    assert not load.is_alive()
    holder.close()
    assert isinstance(load.error, psycopg.OperationalError), (
        load.error
    )  # the load failed: the server went away
    with psycopg.connect(url) as conn:
        after_restart = conn.execute(f"SELECT count(*) FROM {SCHEMA}.{CACHE}").fetchone()[0]
    result = _load(new)  # the task's retry
    time.sleep(0.5)
    stop.set()
    reader.join(10)
    with psycopg.connect(url) as conn:
        served = conn.execute(f"SELECT count(*) FROM {SCHEMA}.{CACHE}").fetchone()[0]
        statuses = conn.execute(
            f"SELECT status, count(*) FROM {SCHEMA}.cache_loads WHERE cache_name = %s GROUP BY 1 ORDER BY 1",
            [CACHE],
        ).fetchall()
        interrupted = conn.execute(
            f"SELECT status, failure_reason FROM {SCHEMA}.cache_loads "
            "WHERE cache_name = %s AND load_id < %s ORDER BY load_id DESC LIMIT 1",
            [CACHE, result.load_id],
        ).fetchone()
    outcome(
        f"load failed with {type(load.error).__name__}; after restart the view served {after_restart} rows "
        f"(old); retry loaded {result.rows}; readers saw {sorted(set(views))}; loads {statuses}; "
        f"interrupted load: {interrupted[0]} ({interrupted[1]})"
    )
    assert after_restart == 2_000 * 2  # the old snapshot, whole
    assert served == result.rows == 2_000 * 3
    assert set(views) <= {2_000 * 2, 2_000 * 3} and views  # old or new, never a part
    # The killed load could not record its end; the retry marked it failed (then dropped its
    # snapshot, as of any failed load), so no row says 'loading'.
    assert interrupted[0] in {"failed", "dropped"} and "abandoned" in interrupted[1], interrupted
    assert "loading" not in dict(statuses), statuses
