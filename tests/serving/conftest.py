"""The API against a real PostgreSQL: a small store, caches loaded by the project's snapshot code."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import psycopg
import pytest
from api_testdata import (
    CUSTOMERS,
    PERSONAL,
    POPULAR,
    PRODUCTS,
    SEGMENTS,
    SIMILAR,
    TRENDING,
    config_of,
    demo_config_data,
    load_list,
    load_ranked,
)
from fastapi.testclient import TestClient

from devenv import postgres
from devenv.airflow_env import set_connections


@pytest.fixture(scope="session")
def store_url(database_url) -> str:
    """The store schema with a few customers and products of the serving tests' own."""
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
