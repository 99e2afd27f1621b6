"""POST /events lands where the export and event sync already read, once per event_id."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from personalize_pipeline.sql_files import read_sql

AT = datetime(2026, 10, 3, 12, 0, tzinfo=UTC)


def _export(url: str, start: datetime, end: datetime) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(read_sql("extract/interactions.sql"), {"start": start, "end": end}).fetchall()


def _current_xid(url: str) -> str:
    """A transaction id every later insert exceeds: the watermark of a sync that ran just now."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT pg_current_xact_id()::text").fetchone()[0]


def _event_sync(url: str, since_xid: str, since: datetime, until: datetime) -> list[tuple]:
    """Event sync's query resuming after ``since_xid`` (rows other tests inserted before are behind
    it: one timed after ``until`` would otherwise hold back everything inserted after it)."""
    params = {
        "since_xid": since_xid,
        "since": since,
        "since_key": "",
        "from_ts": since,
        "until": until,
        "max_events": 100_000,
    }
    with psycopg.connect(url) as conn:
        return conn.execute(read_sql("event_sync/new_interactions.sql"), params).fetchall()


def _post(client, event_type: str, **extra):
    event = {
        "user_id": "srv-c3",
        "item_id": "srv-p2",
        "event_type": event_type,
        "timestamp": int(AT.timestamp()),
        "event_id": f"evt-{uuid.uuid4()}",
        **extra,
    }
    return event, client.post("/events", json=event)


def test_views_and_purchases_reach_the_export_and_event_sync_queries(client, store_url):
    seconds = int(AT.timestamp())
    watermark = _current_xid(store_url)
    _, view = _post(client, "view", timestamp=seconds, session_id="s-1")
    _, cart = _post(client, "add_to_cart", timestamp=seconds + 1)
    _, purchase = _post(client, "purchase", timestamp=seconds + 2, recommendation_id="rec-1")
    assert [r.status_code for r in (view, cart, purchase)] == [200, 200, 200]
    assert all(r.json()["stored"] for r in (view, cart, purchase))
    exported = _export(store_url, AT, AT + timedelta(seconds=3))
    assert [row for row in exported if row[0] == "srv-c3"] == [
        ("srv-c3", "srv-p2", "view", seconds),
        ("srv-c3", "srv-p2", "add_to_cart", seconds + 1),
        ("srv-c3", "srv-p2", "purchase", seconds + 2),
    ]
    synced = _event_sync(store_url, watermark, AT - timedelta(seconds=1), AT + timedelta(seconds=3))
    assert [(r[0], r[2]) for r in synced if r[0] == "srv-c3"] == [
        ("srv-c3", "view"),
        ("srv-c3", "add_to_cart"),
        ("srv-c3", "purchase"),
    ]


def test_a_purchase_is_an_order_line_at_the_product_price_with_its_ids(client, store_url):
    event, response = _post(client, "purchase", session_id="s-9", recommendation_id="rec-9")
    assert response.json() == {"event_id": event["event_id"], "stored": True}
    with psycopg.connect(store_url) as conn:
        row = conn.execute(
            "SELECT o.customer_id, o.session_id, o.recommendation_id, i.line_no, i.product_id, i.quantity,"
            " i.unit_price, p.price FROM store.orders o JOIN store.order_items i USING (order_id)"
            " JOIN store.products p USING (product_id) WHERE o.client_event_id = %s",
            (event["event_id"],),
        ).fetchall()
    assert len(row) == 1
    customer, session, recommendation, line, product, quantity, unit_price, price = row[0]
    assert (customer, session, recommendation, line, product, quantity) == (
        "srv-c3",
        "s-9",
        "rec-9",
        1,
        "srv-p2",
        1,
    )
    assert unit_price == price


def test_a_retried_event_is_stored_once(client, store_url):
    for event_type, table in (("view", "events"), ("purchase", "orders")):
        event, first = _post(client, event_type)
        again = client.post("/events", json=event)
        assert first.json()["stored"] is True
        assert again.json() == {"event_id": event["event_id"], "stored": False}
        with psycopg.connect(store_url) as conn:
            count = conn.execute(
                f"SELECT count(*) FROM store.{table} WHERE client_event_id = %s", (event["event_id"],)
            ).fetchone()[0]
        assert count == 1, table


def test_without_event_id_or_timestamp_the_server_fills_them_in(client, store_url):
    before = datetime.now(UTC)
    response = client.post("/events", json={"user_id": "srv-c4", "item_id": "srv-p1", "event_type": "view"})
    client_event_id = response.json()["event_id"]
    assert uuid.UUID(client_event_id).version == 4
    with psycopg.connect(store_url) as conn:
        event_id, occurred_at = conn.execute(
            "SELECT event_id, occurred_at FROM store.events WHERE client_event_id = %s", (client_event_id,)
        ).fetchone()
    assert event_id > 0 and before - timedelta(seconds=1) <= occurred_at <= datetime.now(UTC)


def test_the_simulated_clock_stamps_events_only_when_enabled(caches, serve, demo_config, store_url):
    simulated = datetime(2026, 11, 7, 9, 30, tzinfo=UTC)
    header = {"X-Simulated-Time": str(simulated.timestamp())}
    event = {"user_id": "srv-c5", "item_id": "srv-p1", "event_type": "view"}
    stamps = []
    for enabled in (False, True):
        with serve(demo_config(), caches, simulated_clock=enabled) as client:
            client_event_id = client.post("/events", json=event, headers=header).json()["event_id"]
        with psycopg.connect(store_url) as conn:
            stamps.append(
                conn.execute(
                    "SELECT occurred_at FROM store.events WHERE client_event_id = %s", (client_event_id,)
                ).fetchone()[0]
            )
    assert stamps[0] > simulated + timedelta(days=1)  # the server's clock (machine time is later)
    assert stamps[1] == simulated


def test_an_event_id_taken_by_another_writer_moves_the_sequence_on(client, store_url):
    with psycopg.connect(store_url, autocommit=True) as conn:
        # another writer takes the next ids the API's sequence would hand out
        taken = conn.execute("SELECT last_value FROM store.events_event_id_seq").fetchone()[0] + 1
        conn.execute(
            "INSERT INTO store.events (event_id, customer_id, product_id, event_type, occurred_at) "
            "SELECT i, 'srv-c3', 'srv-p2', 'view', %s FROM generate_series(%s::bigint, %s::bigint) i",
            (AT, taken, taken + 2),
        )
    event, response = _post(client, "view")
    assert response.status_code == 200, response.text
    assert response.json()["stored"] is True
    with psycopg.connect(store_url) as conn:
        event_id = conn.execute(
            "SELECT event_id FROM store.events WHERE client_event_id = %s", (event["event_id"],)
        ).fetchone()[0]
    assert event_id > taken + 2
