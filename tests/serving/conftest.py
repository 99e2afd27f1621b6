"""The API against a real PostgreSQL: a small store, caches loaded by the project's snapshot code."""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import yaml
from fastapi.testclient import TestClient

from devenv import postgres
from devenv.airflow_env import set_connections
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


@pytest.fixture(scope="session")
def store_url(database_url) -> str:
    """The store schema with a few customers, products and orders of this package's own."""
    postgres.apply_schema(database_url)
    with psycopg.connect(database_url) as conn:
        for customer in CUSTOMERS:
            conn.execute(
                "INSERT INTO store.customers VALUES (%s, %s, 'DE', '25-34') ON CONFLICT DO NOTHING",
                (customer, datetime(2025, 1, 1, tzinfo=UTC)),
            )
        for i, product in enumerate(PRODUCTS, 1):
            conn.execute(
                "INSERT INTO store.products VALUES (%s, %s, 'books', %s, %s) ON CONFLICT DO NOTHING",
                (product, f"Product {i}", 10 + i, datetime(2025, 1, 1, tzinfo=UTC)),
            )
    return database_url


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


@pytest.fixture(scope="session")
def caches(store_url) -> str:
    """Every cache of the demo config live in SCHEMA; returns the database URL."""
    set_connections(db_url=store_url, aws_endpoint_url=None)
    load_ranked("user_recommendations", "USER_PERSONALIZATION", PERSONAL)
    load_ranked("similar_items", "RELATED_ITEMS", SIMILAR)
    load_ranked("item_affinity_segments", "USER_SEGMENTATION", SEGMENTS)
    load_list("popular_items", "popular", POPULAR)
    load_list("trending_items", "trending", TRENDING)
    return store_url


@contextlib.contextmanager
def _serve(config, url: str, **settings):
    from serving.app import create_app
    from serving.settings import Settings

    app = create_app(Settings(config=config, database_url=url, source_database_url=url, **settings))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="session")
def serve():
    """``serve(config, url, **settings)``: the app under FastAPI's test client, its lifespan running
    (pool, set-up, background tasks)."""
    return _serve


@pytest.fixture(scope="session")
def demo_config():
    """``demo_config(**changes)``: the demo's validated config with changes, its caches in SCHEMA."""
    return lambda **changes: config_of(demo_config_data(**changes))


@pytest.fixture
def client(caches, serve, demo_config):
    with serve(demo_config(), caches) as client:
        yield client
