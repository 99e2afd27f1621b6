"""Concurrent reads of one cache, served by one statement.

Most of a recommendation's API CPU was its database round trip (pool checkout, execute, wait,
rows), one per request. A request that finds a read of its cache in flight waits for that read to
end; the requests that gathered meanwhile are then read together by one ``key = ANY(keys)``
statement, whose rows and live load id come from one snapshot, so every answer of a batch is
consistent with its load id. A request that finds no read in flight starts one at once: no timer,
nobody waits for company. A batch holds at most ``max_batch`` requests. What a read asks besides
the keys (the cache, the list length) is fixed per ``Coalescer``.

The read in flight is run by one of the waiting requests (the first in line), not by a task of
its own: the one that ran the last read hands the next on when it ends.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Found = TypeVar("Found")
# keys (each once) → what the statement found, by key
ReadMany = Callable[[list[str]], Awaitable[dict[str, Found]]]
_YOUR_TURN = object()  # a waiter's result meaning: the read before ended, run the next one


class _Wanted:
    __slots__ = ("key", "future")

    def __init__(self, key: str, future: asyncio.Future):
        self.key, self.future = key, future


class Coalescer(Generic[Found]):
    def __init__(self, read_many: ReadMany, max_batch: int = 64):
        self.read_many, self.max_batch = read_many, max_batch
        self.queue: deque[_Wanted] = deque()
        self.reading = False  # a read is in flight, or handed on to the first in line
        self.statements = 0  # reads run: requests served / statements is the batching achieved

    async def get(self, key: str) -> Found | None:
        """What one statement found for ``key``, None if nothing."""
        wanted = _Wanted(key, asyncio.get_running_loop().create_future())
        self.queue.append(wanted)
        if self.reading:
            try:
                outcome = await wanted.future
            except asyncio.CancelledError:
                if wanted.future.done() and not wanted.future.cancelled():
                    self._hand_on()  # it was our turn to read: the next in line takes it
                raise
            if outcome is not _YOUR_TURN:
                return outcome
        self.reading = True
        batch = [self.queue.popleft() for _ in range(min(self.max_batch, len(self.queue)))]
        others = [w for w in batch if w is not wanted and not w.future.done()]  # done: cancelled
        self.statements += 1
        try:
            found = await self.read_many(list({w.key for w in (wanted, *others)}))
        except asyncio.CancelledError:
            self.queue.extendleft(reversed(others))  # they still want an answer: read in the next batch
            self._hand_on()
            raise
        except Exception as error:
            self._hand_on()
            for other in others:
                other.future.set_exception(error)
            raise
        self._hand_on()
        for other in others:
            other.future.set_result(found.get(other.key))
        return found.get(key)

    def _hand_on(self) -> None:
        """The first in line runs the next read; with nobody waiting, the next arrival will."""
        while self.queue:
            first = self.queue[0]
            if not first.future.done():
                first.future.set_result(_YOUR_TURN)
                return
            self.queue.popleft()  # cancelled while waiting
        self.reading = False
