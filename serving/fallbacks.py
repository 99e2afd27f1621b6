"""The popular and trending lists, kept in memory: what anyone gets when nothing better answers.

Refreshed from their cache views every ``serving.popular_refresh_seconds``; while PostgreSQL is
unreachable the last copy keeps serving (marked degraded by the caller).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from psycopg_pool import AsyncConnectionPool

from serving.database import UNAVAILABLE, Statements, fetch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RankedList:
    items: tuple[tuple[str, float | None], ...] = ()
    load_id: int | None = None


@dataclass
class FallbackLists:
    pool: AsyncConnectionPool
    statements: Statements
    caches: dict[str, str]  # kind (popular, trending) → cache view
    lists: dict[str, RankedList] = field(default_factory=dict)
    refreshed: bool = False  # the last refresh reached the database

    def best(self) -> tuple[str, RankedList]:
        """Popular, or trending when popular is empty and trending is not."""
        popular, trending = self.lists.get("popular", RankedList()), self.lists.get("trending", RankedList())
        if popular.items or not trending.items:
            return "popular", popular
        return "trending", trending

    def get(self, kind: str) -> tuple[str, RankedList]:
        """The ``kind`` list if it has items, else the best one."""
        chosen = self.lists.get(kind, RankedList())
        return (kind, chosen) if chosen.items else self.best()

    async def refresh(self) -> bool:
        """Read both lists; keep the old copies if the database does not answer."""
        try:
            for kind, cache in self.caches.items():
                rows = await fetch(self.pool, self.statements.fallback(cache).query, {"cache_name": cache})
                self.lists[kind] = RankedList(
                    tuple((item, score) for item, score, _ in rows), rows[0][2] if rows else None
                )
        except UNAVAILABLE as error:
            log.warning("Fallback lists not refreshed (serving the copy in memory): %s", error)
            self.refreshed = False
            return False
        self.refreshed = True
        return True

    async def keep_fresh(self, every_seconds: float) -> None:
        """Background task: refresh forever."""
        while True:
            await asyncio.sleep(every_seconds)
            await self.refresh()
