"""The stream stages of the export and the cache load: errors cross threads, nothing waits forever."""

from __future__ import annotations

import itertools
import threading

import pytest

from personalize_pipeline.streams import BlockStream, Worker, in_background


def test_a_background_error_is_raised_after_the_items_before_it():
    def items():
        yield from (1, 2)
        raise KeyError("broken line")

    received = []
    with pytest.raises(KeyError, match="broken line"):
        for item in in_background(items(), depth=1):
            received.append(item)
    assert received == [1, 2]


def test_a_consumer_that_stops_early_ends_the_background_producer():
    ended = threading.Event()

    def endless():
        try:
            yield from itertools.count()
        finally:
            ended.set()

    items = in_background(endless(), depth=1)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    assert ended.wait(5)


def test_a_reader_that_stops_early_never_blocks_the_writer():
    stream = BlockStream(maxsize=1)
    stream.put(b"abcd")
    assert stream.read(2) == b"ab"
    stream.drain()  # what the validation does when it stops before the end

    def write() -> None:
        for _ in range(100):
            stream.put(b"x" * 10)
        stream.put(None)

    writer = Worker(write, "writer")
    writer.start()
    writer.join(5)
    assert not writer.is_alive()
    assert stream.read(2) == b""


def test_a_worker_raises_its_error_where_it_is_awaited():
    def fail():
        raise PermissionError("no credentials")

    worker = Worker(fail, "failing")
    worker.start()
    with pytest.raises(PermissionError, match="no credentials"):
        worker.result()
