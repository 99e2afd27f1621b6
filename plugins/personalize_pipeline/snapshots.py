"""
Cache snapshots: each load fills a new table and swaps the cache's view to it atomically.

The new snapshot is written and indexed first, then the view is repointed inside one
transaction: readers see the old rows or the new rows, never a mix, and a failed load leaves
the live snapshot untouched. ``cache_loads`` records every load (run, source, job, solution
version and its metrics, data interval, counts); the newest few snapshots are kept to roll
back to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from personalize_pipeline.batch_output import LAYOUTS
from personalize_pipeline.db import connect, run_setup, set_local
from personalize_pipeline.sql_files import compose

log = logging.getLogger(__name__)

# Larger sort memory makes the primary key build (one sort of the snapshot) stay in RAM.
INDEX_BUILD_MEMORY = "256MB"
# A smaller sample than the default: key lookups need little, and it reads fewer pages.
STATISTICS_TARGET = "20"
_LINEAGE_DEFAULTS: dict[str, Any] = {
    "dag_id": None,
    "run_id": None,
    "batch_job_arn": None,
    "solution_version_arn": None,
    "data_interval_start": None,
    "data_interval_end": None,
    "metrics": None,
    "input_count": None,
}

Fill = Callable[[Any, tuple[str, str]], tuple[int, int, int]]
PointView = Callable[[tuple[str, str], tuple[str, str]], sql.Composed]


@dataclass(frozen=True)
class LoadResult:
    load_id: int
    snapshot_table: str
    rows: int
    keys: int
    errors: int

    def as_dict(self) -> dict[str, int | str]:
        return self.__dict__.copy()


def load_snapshot(
    *,
    db_conn_id: str,
    schema: str,
    cache_name: str,
    kind: str,
    source_uri: str,
    lineage: dict[str, Any],
    keep_snapshots: int,
    table_sql: str,
    key_columns: tuple[str, ...],
    fill: Fill,
    point_view: PointView,
) -> LoadResult:
    """Record the load, ``fill`` a new snapshot, then repoint the view and mark it live in one transaction.

    ``fill(conn, table)`` copies the rows in and returns the rows the view shows, the keys and
    the error lines.
    """
    record = {**_LINEAGE_DEFAULTS, **lineage}
    record["metrics"] = Jsonb(record["metrics"]) if record["metrics"] is not None else None
    with connect(db_conn_id, autocommit=True) as conn:
        run_setup(conn, "cache/setup.sql", schema=schema)
        _fail_abandoned_loads(conn, schema, cache_name)
        with conn.transaction():
            load_id = conn.execute(
                compose("cache/start_load.sql", schema=schema),
                {"cache_name": cache_name, "source_uri": source_uri, "kind": kind, **record},
            ).fetchone()[0]
            conn.execute(
                compose("cache/hold_load.sql"), {"lock_space": _lock_space(schema), "load_id": load_id}
            )
        snapshot = f"{cache_name}__load_{load_id}"
        table = (schema, snapshot)
        try:
            conn.execute(
                compose("cache/name_snapshot.sql", schema=schema), {"snapshot": snapshot, "load_id": load_id}
            )
            with conn.transaction():
                conn.execute(compose(table_sql, table=table))
                rows, keys, errors = fill(conn, table)
                set_local(conn, "maintenance_work_mem", INDEX_BUILD_MEMORY)
                conn.execute(
                    compose(
                        "cache/primary_key.sql",
                        table=table,
                        constraint=f"{snapshot}_pkey",
                        columns=list(key_columns),
                    )
                )
            with conn.transaction():
                set_local(conn, "default_statistics_target", STATISTICS_TARGET)
                conn.execute(compose("cache/analyze.sql", table=table))
            with conn.transaction():
                conn.execute(point_view((schema, cache_name), table))
                conn.execute(
                    compose("cache/mark_live.sql", schema=schema),
                    {
                        "load_id": load_id,
                        "cache_name": cache_name,
                        "row_count": rows,
                        "key_count": keys,
                        "error_count": errors,
                    },
                )
        except BaseException as error:
            conn.execute(
                compose("cache/mark_failed.sql", schema=schema),
                {"load_id": load_id, "reason": f"{type(error).__name__}: {error}"[:500]},
            )
            raise
        _drop_old_snapshots(conn, schema, cache_name, keep_snapshots)
    log.info(
        "Cache %s.%s (%s) now serves load %d (%d rows, %d keys, %d error lines)",
        schema,
        cache_name,
        kind,
        load_id,
        rows,
        keys,
        errors,
    )
    return LoadResult(load_id=load_id, snapshot_table=snapshot, rows=rows, keys=keys, errors=errors)


def _lock_space(schema: str) -> str:
    """Load ids count per cache schema, so each schema's loads lock in a space of their own."""
    return f"{schema}.cache_loads"


def _fail_abandoned_loads(conn, schema: str, cache_name: str) -> None:
    """A load whose session died (worker killed, server restarted) could not record its failure:
    its row would say 'loading' for ever. The next load of the cache marks it failed."""
    abandoned = conn.execute(
        compose("cache/fail_abandoned_loads.sql", schema=schema),
        {"cache_name": cache_name, "lock_space": _lock_space(schema)},
    ).fetchall()
    for (load_id,) in abandoned:
        log.warning(
            "Cache %s.%s: load %d was abandoned while loading; marked failed", schema, cache_name, load_id
        )


def _drop_old_snapshots(conn, schema: str, cache_name: str, keep: int) -> None:
    stale = conn.execute(
        compose("cache/snapshots_to_drop.sql", schema=schema), {"cache_name": cache_name, "keep": keep}
    ).fetchall()
    for load_id, table in stale:
        with conn.transaction():
            if table:
                conn.execute(compose("cache/drop_snapshot.sql", table=(schema, table)))
            conn.execute(compose("cache/mark_dropped.sql", schema=schema), {"load_id": load_id})
        log.info("Dropped old cache snapshot %s.%s", schema, table)


def whole_table_view(view: tuple[str, str], table: tuple[str, str]) -> sql.Composed:
    """Fallback lists are stored as they are shown: one row per rank."""
    return compose("cache/point_view.sql", view=view, table=table)


def _view_for(kind: str | None) -> PointView:
    return LAYOUTS[kind].view if kind in LAYOUTS else whole_table_view


def rollback(*, db_conn_id: str, schema: str, cache_name: str) -> int:
    """Serve the previous snapshot again (one transaction); returns the load id now live."""
    with connect(db_conn_id) as conn, conn.transaction():
        target = conn.execute(
            compose("cache/rollback_target.sql", schema=schema), {"cache_name": cache_name}
        ).fetchone()
        if target is None:
            raise LookupError(f"cache {schema}.{cache_name} has no previous snapshot to roll back to")
        target_id, table, kind = target
        conn.execute(_view_for(kind)((schema, cache_name), (schema, table)))
        conn.execute(
            compose("cache/mark_rolled_back.sql", schema=schema),
            {"cache_name": cache_name, "target_id": target_id},
        )
    log.info("Cache %s.%s rolled back to load %d (%s)", schema, cache_name, target_id, table)
    return target_id
