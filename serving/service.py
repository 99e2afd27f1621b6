"""What the API holds while it runs: pools, statements, fallback lists, exposures, campaign client.

``start`` creates the tables it writes (if PostgreSQL answers; retried later if not), opens the
pools without waiting for them, reads the fallback lists and starts the background tasks that
refresh them and flush exposures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from serving.campaign import CampaignClient
from serving.database import UNAVAILABLE, Statements, open_pool, set_up
from serving.exposures import ExposureLog
from serving.fallbacks import FallbackLists
from serving.recommend import Recommender
from serving.settings import Settings

log = logging.getLogger(__name__)


class Service:
    """Everything a request needs, built at start-up."""

    def __init__(self, settings: Settings):
        config = settings.config
        self.settings, self.config = settings, config
        self.statements = Statements(config)
        serving = config.serving
        self.pool = open_pool(
            settings.database_url, timeout=serving.db_timeout_seconds, size=serving.pool_size, name="cache"
        )
        self.source_pool = self.pool  # the store's tables, for events: usually the same database
        if settings.source_database_url != settings.database_url:
            self.source_pool = open_pool(
                settings.source_database_url,
                timeout=serving.db_timeout_seconds,
                size=serving.pool_size,
                name="source",
            )
        fallbacks = config.fallbacks
        self.fallbacks = FallbackLists(
            self.pool,
            self.statements,
            {"popular": fallbacks.popular.cache_table, "trending": fallbacks.trending.cache_table},
        )
        uses_campaign = any(v.source.campaign for e in config.experiments.values() for v in e.variants)
        self.campaign = (
            CampaignClient(config, config.serving.campaign_timeout_seconds) if uses_campaign else None
        )
        self.recommender = Recommender(config, self.statements, self.pool, self.fallbacks, self.campaign)
        self.exposures = ExposureLog(
            settings.database_url, self.statements, config.serving.exposure_buffer_size
        )
        self.is_set_up = False
        self.tasks: list[asyncio.Task] = []

    async def set_up(self) -> None:
        """Create what the API writes to, if the database answers (else retried by ``maintain``)."""
        try:
            await asyncio.wait_for(set_up(self.settings.database_url, self.config), 10)
            self.is_set_up = True
        except (*UNAVAILABLE, OSError) as error:
            log.warning("Database not reachable at start-up; serving from memory: %s", error)

    async def maintain(self) -> None:
        while True:
            await asyncio.sleep(self.config.serving.popular_refresh_seconds)
            if not self.is_set_up:
                await self.set_up()
            await self.fallbacks.refresh()

    async def start(self) -> None:
        await self.set_up()
        await self.pool.open(wait=False)
        if self.source_pool is not self.pool:
            await self.source_pool.open(wait=False)
        await self.fallbacks.refresh()
        self.tasks = [
            asyncio.create_task(self.maintain()),
            asyncio.create_task(self.exposures.keep_flushing(self.config.serving.exposure_flush_seconds)),
        ]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.exposures.close()
        if self.campaign is not None:
            self.campaign.close()
        await self.pool.close()
        if self.source_pool is not self.pool:
            await self.source_pool.close()
