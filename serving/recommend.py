"""Which list a request gets, and the fallbacks behind it.

For a customer: the experiment active now (if any) picks the variant and so the source; without
one, the first per-user solution's cache. A campaign falls back to its solution's cache, a cache
to the popular list (trending when popular is empty), and an unreachable database to the lists in
memory, marked ``degraded``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from psycopg_pool import AsyncConnectionPool

from personalize_pipeline.config import ExperimentConfig, PipelineConfig, VariantSourceConfig
from serving.assignment import bounds, bucket, variant_index
from serving.campaign import CampaignClient
from serving.coalesce import Coalescer
from serving.database import UNAVAILABLE, Lookup, Statements, fetch
from serving.fallbacks import FallbackLists

log = logging.getLogger(__name__)
# A key's list as one statement read it: its entries as JSON text, the load id
Ranked = tuple[str, int]


@dataclass(slots=True)
class Answer:
    """What a request is answered with; never changed once made. Made per request, so a slotted
    class: a frozen dataclass's ``__init__`` (a ``object.__setattr__`` per field) cost four times
    as much."""

    values: list[tuple[str, float | None]]  # empty when ``encoded`` holds the list
    source: str
    load_id: int | None
    degraded: bool = False
    experiment: str | None = None
    variant: str | None = None
    encoded: str | None = None  # a cache's list as the database wrote it: the response's JSON array

    def in_variant(self, experiment: str, variant: str) -> Answer:
        """This answer, as served to an experiment's variant."""
        return Answer(
            self.values, self.source, self.load_id, self.degraded, experiment, variant, self.encoded
        )


class DatabaseDown(Exception):
    """The cache could not be read; the caller answers from memory."""


def _cache_of(config: PipelineConfig, recipe_type: str) -> str | None:
    outputs = [s.output for s in config.solutions.values() if s.recipe_type == recipe_type]
    return next((output.cache_table for output in outputs if output), None)


class Recommender:
    def __init__(
        self,
        config: PipelineConfig,
        statements: Statements,
        pool: AsyncConnectionPool,
        fallbacks: FallbackLists,
        campaign: CampaignClient | None,
    ):
        self.config, self.pool, self.fallbacks, self.campaign = config, pool, fallbacks, campaign
        self.database_ok = True
        self.user_lookups = {
            name: statements.ranked(s.output.cache_table, "user_id", "item_id", scored=True)
            for name, s in config.solutions.items()
            if s.output and s.recipe_kind.per_user
        }
        similar, segments = _cache_of(config, "RELATED_ITEMS"), _cache_of(config, "USER_SEGMENTATION")
        self.similar = similar and statements.ranked(similar, "item_id", "similar_item_id", scored=True)
        self.segments = segments and statements.ranked(segments, "item_id", "user_id", scored=False)
        self.readers: dict[tuple[Lookup, int], Coalescer[Ranked]] = {}  # made on first use
        # each experiment's variant ranges, worked out once instead of on every request
        self.experiments = [
            (name, experiment, bounds([v.weight for v in experiment.variants]))
            for name, experiment in config.experiments.items()
        ]

    def experiment_at(self, now: datetime) -> tuple[str, ExperimentConfig, list[int]] | None:
        """The experiment running at ``now`` (configs never overlap in time), with its variant ranges."""
        return next((running for running in self.experiments if running[1].active_at(now)), None)

    async def read(self, lookup: Lookup, key: str, n: int) -> Answer | None:
        """One key's list from a cache, read with whatever other keys of it are asked meanwhile;
        None when the cache has nothing for it."""
        reader = self.readers.get((lookup, n)) or self._reader(lookup, n)
        try:
            found = await reader.get(key)
        except UNAVAILABLE as error:
            self.database_ok = False
            raise DatabaseDown(str(error)) from error
        self.database_ok = True
        if found is None:
            return None
        encoded, load_id = found
        return Answer([], "personalized", load_id, encoded=encoded)

    def _reader(self, lookup: Lookup, n: int) -> Coalescer[Ranked]:
        """The reads of one cache and list length: the statement cuts the lists, the JSON is final."""
        reader = self.readers[(lookup, n)] = Coalescer(partial(self._read_many, lookup, n))
        return reader

    async def _read_many(self, lookup: Lookup, n: int, keys: list[str]) -> dict[str, Ranked]:
        params = {"cache_name": lookup.cache_name, "keys": keys, "n": n}
        rows = await fetch(self.pool, lookup.query, params)
        return {key: (encoded, load_id) for key, encoded, load_id in rows}

    def fallback(self, kind: str, n: int, *, degraded: bool = False, exclude: str | None = None) -> Answer:
        source, ranked = self.fallbacks.get(kind)
        values = [item for item in ranked.items if item[0] != exclude][:n]
        return Answer(values, source, ranked.load_id, degraded=degraded)

    async def for_user(self, user_id: str, n: int, now: datetime) -> Answer:
        running = self.experiment_at(now)
        if running is None:
            solution = next(iter(self.user_lookups), None)
            return await self._solution(solution, user_id, n)
        name, experiment, upper = running
        variant = experiment.variants[variant_index(bucket(experiment.seed, user_id), upper)]
        source = variant.source
        if source.solution:  # the usual variant, a cache: read directly, one coroutine less
            answer = await self._solution(source.solution, user_id, n)
        else:
            answer = await self._variant(source, user_id, n)
        return answer.in_variant(name, variant.name)

    async def _variant(self, source: VariantSourceConfig, user_id: str, n: int) -> Answer:
        """A campaign's or a fallback list's variant."""
        if source.fallback:
            return self.fallback(source.fallback, n)
        if source.campaign and self.campaign is not None:
            try:
                items = await self.campaign.recommend(source.campaign, user_id, n)
                if items:
                    return Answer(items, "campaign", None)
            except Exception as error:  # any failure or timeout: the cache answers
                log.warning("Campaign %s did not answer (%r); serving its cache", source.campaign, error)
        return await self._solution(source.campaign, user_id, n)  # the campaign's solution's cache

    async def _solution(self, solution: str | None, user_id: str, n: int) -> Answer:
        lookup = self.user_lookups.get(solution) if solution else None
        if lookup is None:
            return self.fallback("popular", n)
        try:
            answer = await self.read(lookup, user_id, n)
        except DatabaseDown:
            return self.fallback("popular", n, degraded=True)
        return answer or self.fallback("popular", n)

    async def similar_items(self, item_id: str, n: int) -> Answer:
        """Similar products, or the popular ones (the item itself left out) for an unknown product."""
        try:
            answer = await self.read(self.similar, item_id, n) if self.similar else None
        except DatabaseDown:
            return self.fallback("popular", n, degraded=True, exclude=item_id)
        return answer or self.fallback("popular", n, exclude=item_id)

    async def item_segment(self, item_id: str, n: int) -> Answer | None:
        """The customers most likely to buy the product; None if the cache has none (or is unreachable)."""
        return await self.read(self.segments, item_id, n) if self.segments else None
