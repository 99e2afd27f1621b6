"""Experiment exposures: buffered in memory, written to PostgreSQL in batches off the request path.

``record`` only appends to a bounded list: when it is full the exposure is dropped and counted,
so a request never waits on logging. A background task COPYs the buffer every
``serving.exposure_flush_seconds``; if the database is down that batch is dropped and counted
too. Drop counts go to ``experiment_exposures_lost`` (per experiment and minute) once the
database answers again, and to /health.

The flush shares the event loop with the requests: it encodes in binary COPY format (an eighth
of text's CPU per row) and hands the loop back every ``ROWS_PER_TURN`` rows, so a large batch
never holds a request up for longer than a third of a millisecond.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from serving.database import CONNECT_TIMEOUT_SECONDS, Statements

log = logging.getLogger(__name__)

ROWS_PER_TURN = 200  # rows encoded (or counted lost) between two turns: ~0.3 ms at ~1.6 us a row
# the columns of serving/copy_exposures.sql, which COPYs in binary format
COLUMN_TYPES = ("text", "text", "text", "text", "text", "timestamptz")


@dataclass
class ExposureLog:
    url: str
    statements: Statements
    capacity: int
    buffer: list[tuple] = field(default_factory=list)
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
        if len(self.buffer) >= self.capacity:
            self._lose(experiment, exposed_at, 1)
            return
        self.buffer.append((experiment, variant, user_id, recommendation_id, source, exposed_at))

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
        """Write what is buffered (and the drop counts); on failure drop the batch and count it."""
        if not self.buffer and not self.lost_unrecorded:
            return
        batch, self.buffer = self.buffer, []
        try:
            conn = await self._connection()
            if batch:
                await self._copy(conn, batch)
                self.written += len(batch)
                batch = []  # written: a failure recording the drop counts loses none of it
            await self._record_lost(conn)
        except (psycopg.Error, OSError) as error:
            log.warning("Dropped %d exposures (database unavailable): %s", len(batch), error)
            for rows in _turns(batch):
                for experiment, _, _, _, _, at in rows:
                    self._lose(experiment, at, 1)
                await asyncio.sleep(0)

    async def _copy(self, conn: psycopg.AsyncConnection, batch: list[tuple]) -> None:
        async with conn.cursor() as cur, cur.copy(self.statements.copy_exposures) as copy:
            copy.set_types(COLUMN_TYPES)
            for rows in _turns(batch):
                for row in rows:
                    await copy.write_row(row)  # buffers; awaits the socket only when it is full
                await asyncio.sleep(0)

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


def _turns(batch: list[tuple]) -> Iterator[list[tuple]]:
    """The batch in slices of ``ROWS_PER_TURN``: the work done between two turns of the event loop."""
    for start in range(0, len(batch), ROWS_PER_TURN):
        yield batch[start : start + ROWS_PER_TURN]
