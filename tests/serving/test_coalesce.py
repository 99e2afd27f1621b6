"""Concurrent reads of a cache are served by one statement: each request still gets its own list,
consistent with the load id read with it, even while a new load replaces the cache."""

from __future__ import annotations

import asyncio
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


def _user_reader(service: Service) -> Coalescer:
    recommender = service.recommender
    return recommender.readers[next(iter(recommender.user_lookups.values()))]


def test_concurrent_requests_share_one_statement_and_each_gets_its_own_list(caches, demo_config):
    wanted = [("srv-c1", 3), ("srv-c2", 5), ("srv-c1", 1), ("nobody", 2), ("srv-c2", 1)] * 4

    async def body(service):
        recommender, reader = service.recommender, _user_reader(service)
        await recommender.for_user("srv-c1", 1, AFTER_EXPERIMENT)  # a connection, the statement prepared
        before = reader.statements
        answers = await asyncio.gather(*(recommender.for_user(u, n, AFTER_EXPERIMENT) for u, n in wanted))
        return answers, reader.statements - before

    answers, statements = _with_service(demo_config(), caches, body)
    load_id = live_load(caches, "user_recommendations")
    for (user, n), answer in zip(wanted, answers, strict=True):
        if user in PERSONAL:
            scored = [(item, 1.0 / rank) for rank, item in enumerate(PERSONAL[user][:n], 1)]
            assert (answer.values, answer.source, answer.load_id) == (scored, "personalized", load_id)
        else:
            assert ([item for item, _ in answer.values], answer.source) == (POPULAR[:n], "popular")
    assert statements == 2  # the first request alone, the other 19 gathered during its round trip


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
        assert [item for item, _ in answer.values] == contents[answer.load_id][user]
    assert len({answer.load_id for _, answer in answers}) >= 3  # the swaps happened while reading


def _coalescer(gate: asyncio.Event, reads: list[list[str]]) -> Coalescer:
    async def read_many(keys: list[str], n: int) -> dict[str, str]:
        reads.append(sorted(keys))
        await gate.wait()
        if "bad" in keys:
            raise OSError("read failed")
        return {key: f"{key}:{n}" for key in keys}

    return Coalescer(read_many, max_batch=2)


def test_batches_are_bounded_and_a_cancelled_waiter_does_not_stall_the_line():
    async def run():
        gate, reads = asyncio.Event(), []
        coalescer = _coalescer(gate, reads)
        first = asyncio.create_task(coalescer.get("a", 1))
        await asyncio.sleep(0)
        waiting = [asyncio.create_task(coalescer.get(key, 3)) for key in "bcde"]
        await asyncio.sleep(0)
        waiting[0].cancel()  # the next in line leaves
        gate.set()
        results = await asyncio.gather(first, *waiting[1:])
        return results, reads

    results, reads = asyncio.run(run())
    assert results == ["a:1", "c:3", "d:3", "e:3"]
    assert reads == [["a"], ["c", "d"], ["e"]]  # b left; at most two a statement


def test_a_failed_read_fails_every_request_it_served_and_the_next_reads_go_on():
    async def run():
        gate, reads = asyncio.Event(), []
        coalescer = _coalescer(gate, reads)
        first = asyncio.create_task(coalescer.get("a", 1))
        await asyncio.sleep(0)
        batch = [asyncio.create_task(coalescer.get(key, 1)) for key in ("bad", "b")]
        gate.set()
        assert await first == "a:1"
        for task in batch:
            with pytest.raises(OSError, match="read failed"):
                await task
        return await coalescer.get("c", 1), coalescer.reading

    assert asyncio.run(run()) == ("c:1", False)
