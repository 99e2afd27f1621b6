"""The exposure log against a real PostgreSQL: binary COPY, turns of the event loop, stopping mid-flush."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from api_testdata import IN_EXPERIMENT, SCHEMA
from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format

from serving import exposures
from serving.database import Statements, set_up
from serving.exposures import ROWS_PER_TURN, ExposureLog


@pytest.fixture
def exposures_url(store_url, demo_config):
    """The exposure tables, emptied: each test counts what it wrote."""
    config = demo_config()
    asyncio.run(set_up(store_url, config))
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {SCHEMA}.experiment_exposures, {SCHEMA}.experiment_exposures_lost")
    return store_url


def test_the_set_up_replaces_the_per_user_btree_with_a_time_range_index(exposures_url, demo_config):
    """The report reads a time window; the b-tree cost each written exposure twice the server CPU."""
    with psycopg.connect(exposures_url, autocommit=True) as conn:
        conn.execute(
            f"CREATE INDEX experiment_exposures_by_user ON {SCHEMA}.experiment_exposures "
            "(experiment, user_id, exposed_at)"
        )  # as an earlier version of the set-up left it
        asyncio.run(set_up(exposures_url, demo_config()))
        indexes = dict(
            conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
                (SCHEMA, "experiment_exposures"),
            ).fetchall()
        )
    assert "experiment_exposures_by_user" not in indexes
    assert "USING brin (exposed_at)" in indexes["experiment_exposures_by_time"]


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
            f" FROM {SCHEMA}.experiment_exposures ORDER BY exposure_id"
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
    assert (log.written, log.lost_total, log.buffer) == (4, 0, [])


class _CountingText(Dumper):
    """psycopg's binary text encoding, counting the values it encodes (registered on one connection)."""

    format = Format.BINARY
    oid = postgres.types["text"].oid
    encoded = 0

    def dump(self, obj: str) -> bytes:
        _CountingText.encoded += 1
        return obj.encode()


def test_a_large_flush_hands_the_event_loop_back_between_slices(exposures_url, demo_config, monkeypatch):
    """Requests share the loop with the flush: it must not encode thousands of rows in one go."""
    monkeypatch.setattr(exposures, "ROWS_PER_TURN", 50)  # fewer rows than one socket write holds
    log = _log(exposures_url, demo_config)
    rows = 40 * 50 + 7
    _record(log, rows)

    async def most_rows_encoded_in_one_turn() -> int:
        conn = await log._connection()
        conn.adapters.register_dumper(None, _CountingText)  # COPY's text columns, by type oid
        _CountingText.encoded, most, flushing = 0, 0, asyncio.ensure_future(log.flush())
        while not flushing.done():
            seen = _CountingText.encoded
            await asyncio.sleep(0)
            most = max(most, _CountingText.encoded - seen)
        await log.close()
        return most // 5  # five text columns a row

    assert 0 < asyncio.run(most_rows_encoded_in_one_turn()) <= 50
    assert len(_stored(exposures_url)) == rows == log.written


def test_stopping_the_flusher_mid_write_neither_loses_nor_doubles_a_batch(exposures_url, demo_config):
    log = _log(exposures_url, demo_config)
    rows = 4 * ROWS_PER_TURN
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
    rows = 2 * ROWS_PER_TURN + 1  # 0.25 s apart: minutes of 240 rows
    _record(log, rows)
    asyncio.run(log.flush())
    assert log.lost_total == rows and log.buffer == []
    assert sum(log.lost_unrecorded.values()) == rows
    assert log.lost_unrecorded[("homepage-recs", IN_EXPERIMENT)] == 240
