"""Experiment exposures: buffered in memory, written to PostgreSQL in batches off the request path.

``record`` only appends to a bounded list: when it is full the exposure is dropped and counted,
so a request never waits on logging. A background task COPYs the buffer every
``serving.exposure_flush_seconds``; if the database is down that batch is dropped and counted
too. Drop counts go to ``experiment_exposures_lost`` (per experiment and minute) once the
database answers again, and to /health.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from serving.database import CONNECT_TIMEOUT_SECONDS, Statements

log = logging.getLogger(__name__)


@dataclass
class ExposureLog:
    url: str
    statements: Statements
    capacity: int
    enabled: bool = True
    buffer: list[tuple] = field(default_factory=list)
    written: int = 0
    lost_total: int = 0
    lost_unrecorded: Counter = field(default_factory=Counter)  # (experiment, minute) → not yet in the table
    _conn: psycopg.AsyncConnection | None = None

    def record(
        self,
        experiment: str,
        variant: str,
        user_id: str,
        recommendation_id: str,
        source: str,
        exposed_at: datetime,
    ) -> None:
        if not self.enabled:
            return
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
                async with conn.cursor() as cur, cur.copy(self.statements.copy_exposures) as copy:
                    for row in batch:
                        await copy.write_row(row)
                self.written += len(batch)
            await self._record_lost(conn)
        except (psycopg.Error, OSError) as error:
            log.warning("Dropped %d exposures (database unavailable): %s", len(batch), error)
            for experiment, _, _, _, _, at in batch:
                self._lose(experiment, at, 1)

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
        """Background task: flush forever."""
        while True:
            await asyncio.sleep(every_seconds)
            await self.flush()

    async def close(self) -> None:
        await self.flush()
        if self._conn is not None:
            await self._conn.close()
