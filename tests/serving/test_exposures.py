"""The exposure log against a real PostgreSQL: batch rows, the view over them, stopping mid-flush."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from api_testdata import IN_EXPERIMENT, SCHEMA

from serving import exposures
from serving.database import Statements, set_up
from serving.exposures import ExposureLog


@pytest.fixture
def exposures_url(store_url, demo_config):
    """The exposure tables, emptied: each test counts what it wrote."""
    config = demo_config()
    asyncio.run(set_up(store_url, config))
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {SCHEMA}.experiment_exposure_batches, {SCHEMA}.experiment_exposures_lost")
    return store_url


def test_the_set_up_moves_an_earlier_row_per_exposure_table_into_batches(exposures_url, demo_config):
    """An earlier version kept a row per exposure in a table; its rows must read back through the
    view in the order written, and the table's name go to the view."""
    rows = [
        (
            "homepage-recs",
            "personalized",
            f"u{i}",
            f"rec-{i}",
            "personalized",
            IN_EXPERIMENT + timedelta(seconds=i),
        )
        for i in range(5)
    ] + [("homepage-recs", "popular", "u9", "rec-9", "popular", IN_EXPERIMENT + timedelta(minutes=3))]
    with psycopg.connect(exposures_url, autocommit=True) as conn:
        conn.execute(f"DROP VIEW {SCHEMA}.experiment_exposures")
        conn.execute(
            f"CREATE TABLE {SCHEMA}.experiment_exposures (exposure_id bigint GENERATED ALWAYS AS IDENTITY "
            "PRIMARY KEY, experiment text NOT NULL, variant text NOT NULL, user_id text NOT NULL, "
            "recommendation_id text NOT NULL, source text NOT NULL, exposed_at timestamptz NOT NULL)"
        )  # as an earlier version of the set-up left it
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {SCHEMA}.experiment_exposures (experiment, variant, user_id, recommendation_id,"
                " source, exposed_at) VALUES (%s, %s, %s, %s, %s, %s)",
                rows,
            )
        asyncio.run(set_up(exposures_url, demo_config()))
        kind = conn.execute(
            "SELECT relkind FROM pg_class WHERE oid = %s::regclass", (f"{SCHEMA}.experiment_exposures",)
        ).fetchone()[0]
    assert kind == "v"
    assert _stored(exposures_url) == rows


def _log(url: str, demo_config, capacity: int = 100_000) -> ExposureLog:
    return ExposureLog(url, Statements(demo_config()), capacity)


def _record(log: ExposureLog, count: int, user_prefix: str = "u") -> None:
    for i in range(count):
        at = IN_EXPERIMENT + timedelta(seconds=i * 0.25, microseconds=i)
        log.record("homepage-recs", "personalized", f"{user_prefix}{i}", f"rec-{i}", "personalized", at)


def _stored(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"SELECT experiment, variant, user_id, recommendation_id, source, exposed_at"
            f" FROM {SCHEMA}.experiment_exposures ORDER BY batch_id, position"
        ).fetchall()


def test_a_flush_writes_every_row_as_recorded(exposures_url, demo_config):
    log = _log(exposures_url, demo_config)
    unusual = (
        "homepage-recs",
        "popular",
        "Zoë 用户",
        "rec-ü",
        "popular",
        datetime(2026, 11, 5, 1, 2, 3, 456789, UTC),
    )
    log.record(*unusual)
    _record(log, 3)

    async def flush_and_close():
        await log.flush()
        await log.close()

    asyncio.run(flush_and_close())
    stored = _stored(exposures_url)
    assert stored[0] == unusual
    assert [(user, at) for _, _, user, _, _, at in stored[1:]] == [
        (f"u{i}", IN_EXPERIMENT + timedelta(seconds=i * 0.25, microseconds=i)) for i in range(3)
    ]
    assert (log.written, log.lost_total, log.buffer, log.buffered) == (4, 0, {}, 0)


def test_a_large_buffer_is_written_in_slices_in_order(exposures_url, demo_config, monkeypatch):
    """Encoding a row holds the event loop: a large buffer goes out as several rows, none lost or
    reordered, and the loop runs between them."""
    monkeypatch.setattr(exposures, "EXPOSURES_PER_ROW", 50)
    log = _log(exposures_url, demo_config)
    _record(log, 207)

    async def flush_counting_turns() -> int:
        turns, flushing = 0, asyncio.ensure_future(log.flush())
        while not flushing.done():
            await asyncio.sleep(0)
            turns += 1
        await log.close()
        return turns

    assert asyncio.run(flush_counting_turns()) >= 5
    with psycopg.connect(exposures_url) as conn:
        sizes = conn.execute(
            f"SELECT json_array_length(user_ids) FROM {SCHEMA}.experiment_exposure_batches ORDER BY batch_id"
        ).fetchall()
    assert [size for (size,) in sizes] == [50, 50, 50, 50, 7]
    assert [user for _, _, user, _, _, _ in _stored(exposures_url)] == [f"u{i}" for i in range(207)]
    assert log.written == 207


def test_stopping_the_flusher_mid_write_neither_loses_nor_doubles_a_batch(exposures_url, demo_config):
    log = _log(exposures_url, demo_config)
    rows = 800
    _record(log, rows)

    async def stop_mid_flush():
        flusher = asyncio.create_task(log.keep_flushing(0))
        while log.buffer:  # the flush has taken the batch
            await asyncio.sleep(0)
        await asyncio.sleep(0)  # it is writing now
        flusher.cancel()
        with pytest.raises(asyncio.CancelledError):
            await flusher
        _record(log, 3, user_prefix="late")
        await log.close()

    asyncio.run(stop_mid_flush())
    assert len(_stored(exposures_url)) == rows + 3 == log.written
    assert log.lost_total == 0


def test_a_batch_the_database_refuses_is_counted_lost_per_minute(demo_config):
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    log = _log(f"postgresql://nobody@127.0.0.1:{port}/nothing", demo_config)
    rows = 401  # 0.25 s apart: minutes of 240 rows
    _record(log, rows)
    asyncio.run(log.flush())
    assert log.lost_total == rows and log.buffer == {} and log.buffered == 0
    assert sum(log.lost_unrecorded.values()) == rows
    assert log.lost_unrecorded[("homepage-recs", IN_EXPERIMENT)] == 240
