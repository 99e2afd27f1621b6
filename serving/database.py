"""The API's PostgreSQL access: an async pool with short timeouts and the statements it prepares.

A request never waits long on a dead database: getting a connection gives up after
``serving.db_timeout_seconds`` and every statement runs under the same ``statement_timeout``;
the caller then answers from memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from personalize_pipeline.config import PipelineConfig
from personalize_pipeline.sql_files import compose

log = logging.getLogger(__name__)

# What "the database is unreachable or too slow" looks like to a caller.
UNAVAILABLE = (psycopg.OperationalError, PoolTimeout, TimeoutError)
CONNECT_TIMEOUT_SECONDS = 2  # libpq's minimum; the pool's own wait is shorter


def open_pool(url: str, *, timeout: float, size: int, name: str) -> AsyncConnectionPool:
    """A pool that opens in the background: the API starts (and serves from memory) without PostgreSQL."""
    statement_ms = max(1, int(timeout * 1000))
    return AsyncConnectionPool(
        url,
        min_size=size,  # all opened up front: no request pays for a connect
        max_size=size,
        timeout=timeout,
        reconnect_timeout=3600,
        kwargs={
            "autocommit": True,
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "application_name": "personalize-serving",
            # generic plans: a custom plan per execution (the default for ``key = ANY($1)``) cost
            # the ranked read twice its server CPU, and the hot statements' plans never depend on
            # their values
            "options": f"-c statement_timeout={statement_ms} -c plan_cache_mode=force_generic_plan",
            "prepare_threshold": 0,  # every statement is prepared on first use per connection
        },
        open=False,
        name=name,
    )


@dataclass(frozen=True)
class Lookup:
    """A prepared ranked-list read of one cache view."""

    cache_name: str
    query: str


class Statements:
    """Every statement the API runs, composed once at start-up with quoted identifiers."""

    def __init__(self, config: PipelineConfig):
        self.schema = config.cache_schema
        self.live_loads = self._text(compose("serving/live_loads.sql", schema=self.schema))
        self.insert_exposure_batch = self._text(
            compose("serving/insert_exposure_batch.sql", schema=self.schema)
        )
        self.record_lost = self._text(compose("serving/record_lost.sql", schema=self.schema))
        self.insert_event = self._text(compose("serving/insert_event.sql"))
        self.insert_purchase = self._text(compose("serving/insert_purchase.sql"))
        self.reseat_event_ids = self._text(compose("serving/reseat_event_ids.sql"))

    @staticmethod
    def _text(statement: sql.Composed) -> str:
        return statement.as_string()

    def ranked(self, cache_name: str, key: str, value: str, scored: bool) -> Lookup:
        """Some keys' lists from the view ``cache_name`` (columns ``key``, ``rank``, ``value`` [, score]),
        one row per key: key, its entries as JSON text, load id.

        A scored list's entries are ``{"item_id", "score"}`` objects (a score that is not finite as
        null, as the response model writes it), an unscored one's the bare values.
        """
        entry = sql.SQL("r.{}").format(sql.Identifier(value))
        if scored:
            entry = sql.SQL(
                "json_build_object('item_id', {}, 'score', CASE WHEN r.score IN "
                "('NaN', 'Infinity', '-Infinity') THEN NULL ELSE r.score END)"
            ).format(entry)
        query = compose(
            "serving/ranked_items.sql",
            view=(self.schema, cache_name),
            schema=self.schema,
            key=key,
            entry=entry,
        )
        return Lookup(cache_name, self._text(query))

    def fallback(self, cache_name: str) -> Lookup:
        query = compose("serving/fallback_list.sql", view=(self.schema, cache_name), schema=self.schema)
        return Lookup(cache_name, self._text(query))


async def set_up(url: str, config: PipelineConfig) -> None:
    """Tables the API writes and reads: exposures, the event id sequence, ``cache_loads``."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(compose("cache/setup.sql", schema=config.cache_schema))
        await conn.execute(compose("experiments/setup.sql", schema=config.cache_schema))
        await conn.execute(compose("serving/setup.sql"))
        await conn.execute(compose("serving/reseat_event_ids.sql"))


async def fetch(pool: AsyncConnectionPool, query: str, params: dict) -> list[tuple]:
    """Rows of a prepared statement; a cache not loaded yet (no view) reads as no rows."""
    # getconn/putconn, not ``pool.connection()``: its context manager's commit (a no-op in
    # autocommit) and bookkeeping cost the hot route a tenth of its database time
    conn = await pool.getconn()
    try:
        cur = await conn.execute(query, params, prepare=True)
        return await cur.fetchall()
    except psycopg.errors.UndefinedTable:
        return []
    finally:
        await pool.putconn(conn)
