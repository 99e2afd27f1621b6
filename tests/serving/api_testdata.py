"""The serving tests' small store, caches and config (imported by their conftest and modules)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import yaml

from personalize_pipeline.batch_output import LAYOUTS
from personalize_pipeline.config import DEFAULT_PATH, parse_config
from personalize_pipeline.snapshots import load_snapshot, whole_table_view
from personalize_pipeline.sql_files import compose

SCHEMA = "serving_tests"
CUSTOMERS = [f"srv-c{i}" for i in range(1, 6)]
PRODUCTS = [f"srv-p{i}" for i in range(1, 8)]
POPULAR = ["srv-p7", "srv-p6", "srv-p5"]
TRENDING = ["srv-p4", "srv-p3"]
PERSONAL = {"srv-c1": ["srv-p1", "srv-p2", "srv-p3"], "srv-c2": ["srv-p4"]}
SIMILAR = {"srv-p1": ["srv-p2", "srv-p3"]}
SEGMENTS = {"srv-p1": ["srv-c3", "srv-c1"]}
# The demo's experiment window, so the simulated clock can step in and out of it.
IN_EXPERIMENT = datetime(2026, 11, 5, tzinfo=UTC)
AFTER_EXPERIMENT = datetime(2026, 12, 1, tzinfo=UTC)


def demo_config_data(**changes) -> dict:
    """The demo's pipeline file with ``changes`` merged in at the top level (serving: merged by key)."""
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    data = copy.deepcopy(data)
    data["cache_schema"] = SCHEMA
    serving = {"exposure_flush_seconds": 0.05, "popular_refresh_seconds": 1, "db_timeout_seconds": 0.3}
    serving |= changes.pop("serving", {})
    data["serving"] = serving
    data |= changes
    return data


def config_of(data: dict, name: str = "serving_tests"):
    return parse_config(data, Path(f"{name}.yaml"))


def _load(cache: str, kind: str, table_sql: str, columns: tuple[str, ...], rows: list[tuple], view) -> None:
    def fill(conn, table):
        with conn.cursor().copy(compose("cache/copy_in.sql", table=table, columns=list(columns))) as out:
            for row in rows:
                out.write_row(row)
        return len(rows), len(rows), 0

    load_snapshot(
        db_conn_id="store_db",
        schema=SCHEMA,
        cache_name=cache,
        kind=kind,
        source_uri="tests://serving",
        lineage={"dag_id": "tests"},
        keep_snapshots=2,
        table_sql=table_sql,
        key_columns=(columns[0],),
        fill=fill,
        point_view=view,
    )


def load_list(cache: str, kind: str, items: list[str]) -> None:
    """A fallback list (popular or trending) made live."""
    rows = [(rank, item, float(100 - rank)) for rank, item in enumerate(items, 1)]
    _load(cache, kind, "cache/fallback_table.sql", ("rank", "item_id", "score"), rows, whole_table_view)


def load_ranked(cache: str, recipe_type: str, lists: dict[str, list[str]]) -> None:
    """A batch-output cache (one row per key with its ranked list) made live."""
    layout = LAYOUTS[recipe_type]
    rows = [
        (key, values, *(([1.0 / (i + 1) for i in range(len(values))],) if layout.scored else ()))
        for key, values in lists.items()
    ]
    _load(cache, recipe_type, layout.table_sql, layout.snapshot_columns, rows, layout.view)


def live_load(url: str, cache: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"SELECT load_id FROM {SCHEMA}.cache_loads WHERE cache_name = %s AND status = 'live'", (cache,)
        ).fetchone()[0]
