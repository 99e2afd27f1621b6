"""Loading into PostgreSQL and the extraction SQL the pipeline runs against it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from psycopg import sql

from devenv import datagen, postgres

EXTRACT_DIR = postgres.REPO_ROOT / "include" / "sql" / "extract"
WINDOW = {"start": pd.Timestamp("2026-03-01", tz="UTC"), "end": pd.Timestamp("2026-04-01", tz="UTC")}


def extract(url: str, name: str, params: dict | None = None) -> pd.DataFrame:
    """Run an extraction file the way the pipeline does: COPY (query) TO STDOUT as CSV with a header."""
    query = Path(EXTRACT_DIR / f"{name}.sql").read_text()
    statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(sql.SQL(query))
    buffer = io.BytesIO()
    with psycopg.connect(url) as conn, conn.cursor() as cur, cur.copy(statement, params) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype=str, keep_default_na=False)


def table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        count = sql.SQL("SELECT count(*) FROM {}")
        return {
            name: conn.execute(count.format(sql.Identifier("store", name))).fetchone()[0]
            for name in datagen.TABLE_COLUMNS
        }


def test_load_is_idempotent(loaded_tiny, tiny_frames):
    expected = {name: len(frame) for name, frame in tiny_frames.items()}
    assert table_counts(loaded_tiny) == expected
    postgres.apply_schema(loaded_tiny)
    datagen.load(loaded_tiny, tiny_frames)
    assert table_counts(loaded_tiny) == expected
    with psycopg.connect(loaded_tiny) as conn:
        fks = conn.execute(
            "SELECT count(*) FROM pg_constraint WHERE connamespace = 'store'::regnamespace AND contype = 'f'"
        ).fetchone()[0]
    assert fks == 5  # load drops and restores them


def _index_definitions(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = 'store'").fetchall()
    return {definition for (definition,) in rows}


def test_load_restores_every_index(loaded_tiny, tiny_frames):
    postgres.apply_schema(loaded_tiny)
    schema_indexes = _index_definitions(loaded_tiny)
    assert "CREATE INDEX events_occurred_at_idx ON store.events USING btree (occurred_at)" in schema_indexes
    datagen.load(loaded_tiny, tiny_frames)
    assert _index_definitions(loaded_tiny) == schema_indexes


def test_interactions_window(loaded_tiny, tiny_frames):
    got = extract(loaded_tiny, "interactions", WINDOW)
    assert list(got.columns) == ["USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP"]
    assert got["TIMESTAMP"].str.fullmatch(r"\d+").all()  # integer epoch seconds, no fraction
    ts = got["TIMESTAMP"].astype("int64")
    assert ts.is_monotonic_increasing
    assert ts.min() >= WINDOW["start"].timestamp() and ts.max() < WINDOW["end"].timestamp()

    events = tiny_frames["events"]
    in_window = events["occurred_at"].ge(WINDOW["start"]) & events["occurred_at"].lt(WINDOW["end"])
    orders = tiny_frames["orders"]
    orders = orders[orders["ordered_at"].ge(WINDOW["start"]) & orders["ordered_at"].lt(WINDOW["end"])]
    purchases = tiny_frames["order_items"].merge(orders, on="order_id")
    counts = got["EVENT_TYPE"].value_counts().to_dict()
    assert counts == {
        "view": int((in_window & (events["event_type"] == "view")).sum()),
        "add_to_cart": int((in_window & (events["event_type"] == "add_to_cart")).sum()),
        "purchase": len(purchases),
    }
    # A purchase is timed at its order.
    first = purchases.sort_values(["ordered_at", "customer_id", "product_id"]).iloc[0]
    bought = got[
        (got["EVENT_TYPE"] == "purchase")
        & (got["USER_ID"] == first["customer_id"])
        & (got["ITEM_ID"] == first["product_id"])
    ]
    assert int(first["ordered_at"].timestamp()) in bought["TIMESTAMP"].astype("int64").tolist()


def test_items_and_users(loaded_tiny, tiny_frames):
    """The catalogue and the customers as of the interval's end: rows created later are left out."""
    items = extract(loaded_tiny, "items", WINDOW)
    assert list(items.columns) == ["ITEM_ID", "CATEGORY", "PRICE", "CREATION_TIMESTAMP"]
    all_products = tiny_frames["products"]
    existing = all_products[all_products["created_at"] < WINDOW["end"]]
    assert sorted(items["ITEM_ID"]) == sorted(existing["product_id"])
    products = all_products.set_index("product_id").loc[items["ITEM_ID"]]
    assert items["PRICE"].astype(float).tolist() == pytest.approx(products["price"].tolist())
    created = (products["created_at"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    assert items["CREATION_TIMESTAMP"].astype("int64").tolist() == created.tolist()

    users = extract(loaded_tiny, "users", WINDOW)
    assert list(users.columns) == ["USER_ID", "COUNTRY", "AGE_BAND"]
    customers = tiny_frames["customers"]
    assert users["USER_ID"].tolist() == sorted(
        customers.loc[customers["created_at"] < WINDOW["end"], "customer_id"]
    )


def test_batch_users_are_customers_with_history(loaded_tiny, tiny_frames):
    end = pd.Timestamp("2026-02-01", tz="UTC")
    got = extract(loaded_tiny, "batch_users", {"end": end})
    assert list(got.columns) == ["user_id"]
    events, orders = tiny_frames["events"], tiny_frames["orders"]
    expected = set(events.loc[events["occurred_at"] < end, "customer_id"]) | set(
        orders.loc[orders["ordered_at"] < end, "customer_id"]
    )
    assert got["user_id"].tolist() == sorted(expected)
    assert 0 < len(expected) < len(tiny_frames["customers"])  # the cut-off really excludes someone


def test_airflow_connection_json_round_trips(database_url):
    conn = json.loads(postgres.airflow_connection_json(database_url))
    assert conn["conn_type"] == "postgres"
    args = {
        "host": conn.get("host"),
        "port": conn.get("port"),
        "user": conn.get("login"),
        "password": conn.get("password"),
        "dbname": conn.get("schema"),
        **conn.get("extra", {}),
    }
    with psycopg.connect(**{k: v for k, v in args.items() if v is not None}) as pg:
        assert pg.execute("SELECT 1").fetchone() == (1,)
