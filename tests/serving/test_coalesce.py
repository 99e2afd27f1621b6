"""Concurrent reads of a cache are served by one statement: each request still gets its own list,
consistent with the load id read with it, even while a new load replaces the cache."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from api_testdata import AFTER_EXPERIMENT, PERSONAL, POPULAR, live_load, load_ranked

from serving.coalesce import Coalescer
from serving.service import Service
from serving.settings import Settings


def _with_service(config, url: str, body):
    """``body(service)`` on a started Service (its pool open), under a fresh event loop."""

    async def run():
        service = Service(Settings(config=config, database_url=url, source_database_url=url))
        await service.start()
        await service.pool.wait()
        try:
            return await body(service)
        finally:
            await service.stop()

    return asyncio.run(run())


def _items(answer) -> list[str]:
    entries = json.loads(answer.encoded) if answer.encoded is not None else answer.values
    return [entry["item_id"] if answer.encoded else entry[0] for entry in entries]


def _statements(service: Service) -> int:
    return sum(reader.statements for reader in service.recommender.readers.values())


def test_concurrent_requests_share_one_statement_and_each_gets_its_own_list(caches, demo_config):
    wanted = [("srv-c1", 3), ("srv-c2", 1), ("srv-c1", 1), ("nobody", 3), ("srv-c2", 3)] * 4

    async def body(service):
        recommender = service.recommender
        for n in (1, 3):  # connections, the statements prepared
            await recommender.for_user("srv-c1", n, AFTER_EXPERIMENT)
        before = _statements(service)
        answers = await asyncio.gather(*(recommender.for_user(u, n, AFTER_EXPERIMENT) for u, n in wanted))
        return answers, _statements(service) - before

    answers, statements = _with_service(demo_config(), caches, body)
    load_id = live_load(caches, "user_recommendations")
    for (user, n), answer in zip(wanted, answers, strict=True):
        if user in PERSONAL:
            scored = [
                {"item_id": item, "score": 1.0 / rank} for rank, item in enumerate(PERSONAL[user][:n], 1)
            ]
            assert (json.loads(answer.encoded), answer.source, answer.load_id) == (
                scored,
                "personalized",
                load_id,
            )
        else:
            assert (_items(answer), answer.source) == (POPULAR[:n], "popular")
    # per list length: the first request alone, the others gathered during its round trip
    assert statements == 4


def test_a_cache_swap_midway_leaves_every_answer_consistent_with_its_load_id(caches, demo_config):
    reordered = {user: [*reversed(items), "srv-p7"] for user, items in PERSONAL.items()}
    contents = {live_load(caches, "user_recommendations"): PERSONAL}

    def swap() -> None:
        for lists in [reordered, PERSONAL] * 3:  # ends as it began, for the other tests
            load_ranked("user_recommendations", "USER_PERSONALIZATION", lists)
            contents[live_load(caches, "user_recommendations")] = lists

    async def body(service):
        recommender, answers = service.recommender, []
        swapping = threading.Thread(target=swap)
        swapping.start()
        while swapping.is_alive():
            users = [*PERSONAL] * 4
            answered = await asyncio.gather(*(recommender.for_user(u, 10, AFTER_EXPERIMENT) for u in users))
            answers += zip(users, answered, strict=True)
        swapping.join()
        return answers

    answers = _with_service(demo_config(), caches, body)
    for user, answer in answers:
        assert _items(answer) == contents[answer.load_id][user]
    assert len({answer.load_id for _, answer in answers}) >= 3  # the swaps happened while reading


async def _read_in_flight_then(keys: str | tuple[str, ...]):
    """A read of "a" in flight (held until ``gate`` is set, at most two keys a read) and
    requests for ``keys`` waiting behind it."""
    gate, reads = asyncio.Event(), []

    async def read_many(asked: list[str]) -> dict[str, str]:
        reads.append(sorted(asked))
        await gate.wait()
        if "bad" in asked:
            raise OSError("read failed")
        return {key: f"{key}!" for key in asked}

    coalescer = Coalescer(read_many, max_batch=2)
    first = asyncio.create_task(coalescer.get("a"))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(coalescer.get(key)) for key in keys]
    await asyncio.sleep(0)
    return coalescer, gate, reads, first, waiting


def test_batches_are_bounded_and_a_cancelled_waiter_does_not_stall_the_line():
    async def run():
        _, gate, reads, first, waiting = await _read_in_flight_then("bcde")
        waiting[0].cancel()  # the next in line leaves
        gate.set()
        results = await asyncio.gather(first, *waiting[1:])
        return results, reads

    results, reads = asyncio.run(run())
    assert results == ["a!", "c!", "d!", "e!"]
    assert reads == [["a"], ["c", "d"], ["e"]]  # b left; at most two a statement


def test_a_failed_read_fails_every_request_it_served_and_the_next_reads_go_on():
    async def run():
        coalescer, gate, _, first, batch = await _read_in_flight_then(("bad", "b"))
        gate.set()
        assert await first == "a!"
        for task in batch:
            with pytest.raises(OSError, match="read failed"):
                await task
        return await coalescer.get("c"), coalescer.reading

    assert asyncio.run(run()) == ("c!", False)


def test_the_ranked_read_is_planned_once_per_connection_not_per_request(caches, demo_config):
    """A custom plan per execution (PostgreSQL's default for ``key = ANY($1)``) doubled the read's
    server CPU; the pool's connections use the generic plan from the first execution."""

    async def body(service):
        lookup = service.recommender.user_lookups["user-personalization"]
        conn = await service.pool.getconn()
        try:
            for keys in (["srv-c1"], ["srv-c1", "srv-c2"], ["nobody"]) * 3:
                params = {"cache_name": lookup.cache_name, "keys": keys, "n": 5}
                await (await conn.execute(lookup.query, params, prepare=True)).fetchall()
            cur = await conn.execute(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE strpos(statement, 'json_agg') > 0 AND strpos(statement, 'pg_prepared') = 0"
            )
            return await cur.fetchall()
        finally:
            await service.pool.putconn(conn)

    assert _with_service(demo_config(), caches, body) == [(9, 0)]
