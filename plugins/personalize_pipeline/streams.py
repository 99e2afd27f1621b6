"""
Threads joined by bounded hand-overs: how the export and the cache load overlap their stages.

Every stage runs on its own thread and passes its output on through a ``Channel`` (a bounded
queue), so memory is the few items in flight whatever the row count. A stage's error is raised
on the thread that waits for it, and a stage that stops early or fails never leaves the other
one waiting forever.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from queue import Empty, Full, Queue
from typing import Any, BinaryIO

PIPE_BYTES = 1 << 20  # the pipe between a writer thread and its block reader (see piped_blocks)
_POLL_SECONDS = 0.1  # how often a producer waiting on a full channel checks that it is still read
_END = object()


class Worker(threading.Thread):
    """A daemon thread running ``target``; ``result()`` waits for it and raises its error there."""

    def __init__(self, target: Callable[[], Any], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._work = target
        self.error: BaseException | None = None
        self.value: Any = None

    def run(self) -> None:
        try:
            self.value = self._work()
        except BaseException as error:  # raised by result() on the waiting thread
            self.error = error

    def result(self) -> Any:
        self.join()
        if self.error is not None:
            raise self.error
        return self.value


class Channel:
    """Items handed from one thread to another, at most ``depth`` waiting.

    The producer ``put``s items and ``close``s (with an error, to raise it in the consumer); the
    consumer iterates. A consumer that stops early calls ``stop``: from then on ``put`` and
    ``close`` return False at once instead of waiting for room, so the producer can end.
    """

    def __init__(self, depth: int) -> None:
        self._queue: Queue[Any] = Queue(maxsize=depth)
        self._stopped = threading.Event()
        self._error: BaseException | None = None

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def put(self, item: Any) -> bool:
        """Hand on ``item``, waiting while the channel is full; False if the consumer has stopped."""
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except Full:
                continue
        return False

    def close(self, error: BaseException | None = None) -> bool:
        """End the items; ``error`` is raised by the consumer after the items before it."""
        self._error = error
        return self.put(_END)

    def feed(self, items: Iterable[Any]) -> None:
        """Put every item then close, or close with the error that ``items`` raised."""
        try:
            for item in items:
                if not self.put(item):
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            self.close(error)
        else:
            self.close()
        finally:
            if hasattr(items, "close"):  # ends a generator, and any background stage it reads
                items.close()

    def get(self) -> Any:
        """The next item, or ``Channel.END`` once closed (the producer's error is raised instead)."""
        item = self._queue.get()
        if item is _END and self._error is not None:
            raise self._error
        return item

    END = _END

    def __iter__(self) -> Iterator[Any]:
        while (item := self.get()) is not _END:
            yield item

    def stop(self) -> None:
        """The consumer reads no more: a producer waiting for room is released, later items dropped."""
        self._stopped.set()
        with contextlib.suppress(Empty):
            while True:
                self._queue.get_nowait()


def in_background(items: Iterable[Any], depth: int = 2, name: str = "background") -> Iterator[Any]:
    """Iterate ``items`` on a thread, at most ``depth`` items ahead; its errors re-raise here."""
    channel = Channel(depth)
    producer = Worker(lambda: channel.feed(items), name)
    producer.start()
    try:
        yield from channel
    finally:
        channel.stop()
        producer.join()


def piped_blocks(
    write: Callable[[BinaryIO], None], block_bytes: int, *, cancel: Callable[[], None], name: str
) -> Iterator[bytes]:
    """What ``write(sink)`` writes on a thread of its own, read back in blocks of exactly ``block_bytes``.

    Only the last block is shorter (it may be empty). The two threads meet at a pipe with a
    buffer of ``PIPE_BYTES`` at each end, so a writer whose loop is C (psycopg2's COPY) runs no
    Python per row. The writer's error is raised before the last block; a consumer that stops
    early calls ``cancel`` (which must make ``write`` return soon) and waits for the writer.
    """
    read_end, write_end = os.pipe()
    with contextlib.suppress(AttributeError, OSError):  # Linux: a larger pipe means fewer wakeups
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)

    def write_all() -> None:
        with open(write_end, "wb", buffering=PIPE_BYTES) as sink:
            write(sink)

    writer = Worker(write_all, name)
    writer.start()
    finished = False
    try:
        with open(read_end, "rb", buffering=PIPE_BYTES) as source:
            while True:
                block = source.read(block_bytes)
                if len(block) < block_bytes:  # the writer has closed the pipe: it has ended
                    writer.result()
                    finished = True
                    yield block
                    return
                yield block
    finally:
        if not finished:  # the consumer stopped early or failed: stop the writer, then wait for it
            with contextlib.suppress(Exception):
                cancel()
            writer.join()


class BlockStream:
    """A read-only binary file fed with blocks by another thread (``put``; ``None`` ends it).

    The validation reads the export's blocks through it. ``put`` waits while ``maxsize`` blocks
    are queued, which bounds memory; a reader that stops early calls ``drain`` so the writer's
    later blocks are dropped instead of waited on.
    """

    closed = False

    def __init__(self, maxsize: int = 2) -> None:
        self._channel = Channel(maxsize)
        self._block = memoryview(b"")
        self._eof = False

    def put(self, block: bytes | None) -> None:
        """Append a block; ``None`` ends the stream."""
        if block is None:
            self._channel.close()
        else:
            self._channel.put(block)

    def readable(self) -> bool:
        return True

    def read_buffer(self, size: int | None = -1) -> memoryview:
        """Up to ``size`` bytes of the current block, without copying (preferred to ``read``).

        A read stops at the end of a block; an empty result means the end of the stream.
        """
        while not self._block and not self._eof:
            block = self._channel.get()
            if block is Channel.END:
                self._eof = True
            else:
                self._block = memoryview(block)
        end = len(self._block) if size is None or size < 0 else size
        part, self._block = self._block[:end], self._block[end:]
        return part

    def read(self, size: int | None = -1) -> bytes:
        return bytes(self.read_buffer(size))

    def drain(self) -> None:
        """Read no more: whatever the writer still puts is dropped."""
        self._block = memoryview(b"")
        self._eof = True
        self._channel.stop()

    def close(self) -> None:
        """Nothing to release: the writer owns the stream."""
