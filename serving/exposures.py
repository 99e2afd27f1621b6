"""Experiment exposures: buffered in memory, written to PostgreSQL in batches off the request path.

``record`` only appends to the lists of its (experiment, variant, source): when the buffer is full
the exposure is dropped and counted, so a request never waits on logging. A background task
writes the buffer every ``serving.exposure_flush_seconds``: a row per list (or per
``EXPOSURES_PER_ROW`` of it), the users, recommendation ids and times as JSON arrays
(include/sql/experiments/setup.sql says why). If the database is down the unwritten exposures
are dropped and counted too. Drop counts go to ``experiment_exposures_lost`` (per experiment and
minute) once the database answers again, and to /health.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg

from serving.database import CONNECT_TIMEOUT_SECONDS, Statements

log = logging.getLogger(__name__)

# exposures per written row: encoding one holds the event loop (0.2 ms for 500), so a large buffer
# is written in such slices, the loop handed back between them; a longer hold shows in p99
EXPOSURES_PER_ROW = 500
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
MINUTE_US = 60_000_000


@dataclass
class _Batch:
    """One (experiment, variant, source)'s exposures since the last flush, in recording order.

    Lists of strings and integers: nothing the garbage collector tracks is kept per request. The
    times are microseconds since the epoch, converted as recorded: converting at the flush held
    the event loop 0.4 us per exposure at once."""

    user_ids: list[str] = field(default_factory=list)
    recommendation_ids: list[str] = field(default_factory=list)
    exposed_us: list[int] = field(default_factory=list)

    def slice(self, count: int) -> _Batch:
        """The first ``count`` exposures, taken out of this batch."""
        taken = _Batch(self.user_ids[:count], self.recommendation_ids[:count], self.exposed_us[:count])
        del self.user_ids[:count], self.recommendation_ids[:count], self.exposed_us[:count]
        return taken


@dataclass
class ExposureLog:
    url: str
    statements: Statements
    capacity: int
    buffer: dict[tuple[str, str, str], _Batch] = field(default_factory=dict)
    buffered: int = 0
    written: int = 0
    lost_total: int = 0
    lost_unrecorded: Counter = field(default_factory=Counter)  # (experiment, minute) → not yet in the table
    _conn: psycopg.AsyncConnection | None = None
    _flushing: asyncio.Future | None = None

    def record(
        self,
        experiment: str,
        variant: str,
        user_id: str,
        recommendation_id: str,
        source: str,
        exposed_at: datetime,
    ) -> None:
        if self.buffered >= self.capacity:
            self._lose(experiment, exposed_at, 1)
            return
        batch = self.buffer.get((experiment, variant, source))
        if batch is None:
            batch = self.buffer[(experiment, variant, source)] = _Batch()
        batch.user_ids.append(user_id)
        batch.recommendation_ids.append(recommendation_id)
        batch.exposed_us.append((exposed_at - EPOCH) // MICROSECOND)
        self.buffered += 1

    def _lose(self, experiment: str, at: datetime, count: int) -> None:
        self.lost_total += count
        minute = at.astimezone(UTC).replace(second=0, microsecond=0)
        self.lost_unrecorded[(experiment, minute)] += count

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
            )
        return self._conn

    async def flush(self) -> None:
        """Write what is buffered (and the drop counts); on failure drop the unwritten and count them."""
        if not self.buffer and not self.lost_unrecorded:
            return
        batches, self.buffer, self.buffered = self.buffer, {}, 0
        try:
            conn = await self._connection()
            while batches:
                key, batch = next(iter(batches.items()))
                written = batch.slice(EXPOSURES_PER_ROW)
                await conn.execute(self.statements.insert_exposure_batch, _row(key, written))
                self.written += len(written.user_ids)
                if not batch.user_ids:  # all written: a later failure loses none of it
                    del batches[key]
                await asyncio.sleep(0)
            await self._record_lost(conn)
        except (psycopg.Error, OSError) as error:
            unwritten = sum(len(batch.user_ids) for batch in batches.values())
            log.warning("Dropped %d exposures (database unavailable): %s", unwritten, error)
            for (experiment, _, _), batch in batches.items():
                # counted a minute at a time, in C: a call per exposure held the event loop 0.37 s
                # for a full buffer of 100,000
                per_minute = Counter(map(MINUTE_US.__rfloordiv__, batch.exposed_us))
                for minute, lost in per_minute.items():
                    self._lose(experiment, _datetime(minute * MINUTE_US), lost)

    async def _record_lost(self, conn: psycopg.AsyncConnection) -> None:
        for key in list(self.lost_unrecorded):
            (experiment, minute), lost = key, self.lost_unrecorded[key]
            await conn.execute(
                self.statements.record_lost, {"experiment": experiment, "at": minute, "lost": lost}
            )
            self.lost_unrecorded[key] -= lost  # drops counted meanwhile stay for the next flush
            if self.lost_unrecorded[key] <= 0:
                del self.lost_unrecorded[key]

    async def keep_flushing(self, every_seconds: float) -> None:
        """Background task: flush forever. Cancelling it (the API stopping) lets a flush under way
        finish, shielded, for ``close`` to wait on: cut short, its batch would be neither written
        nor counted."""
        while True:
            await asyncio.sleep(every_seconds)
            self._flushing = asyncio.ensure_future(self.flush())
            await asyncio.shield(self._flushing)

    async def close(self) -> None:
        if self._flushing is not None:
            await asyncio.wait([self._flushing])
        await self.flush()
        if self._conn is not None:
            await self._conn.close()


def _row(key: tuple[str, str, str], batch: _Batch) -> dict:
    """The batch's row: JSON arrays encoded here (a C call per list, not a Python call per value)."""
    experiment, variant, source = key
    times = batch.exposed_us
    return {
        "experiment": experiment,
        "variant": variant,
        "source": source,
        "first_at": _datetime(min(times)),
        "last_at": _datetime(max(times)),
        "user_ids": json.dumps(batch.user_ids),
        "recommendation_ids": json.dumps(batch.recommendation_ids),
        "exposed_us": json.dumps(times),
    }


def _datetime(us: int) -> datetime:
    """A time kept as microseconds since the epoch, as a datetime again."""
    return EPOCH + us * MICROSECOND
