"""The one-pass export: blocks reach the upload and the validation as the COPY makes them."""

from __future__ import annotations

import threading

import pytest

from personalize_pipeline.extract import BlockStream, MultipartUpload
from personalize_pipeline.validation import _whole_records


class FakeS3:
    """Records the calls an upload makes; ``fail_part`` makes that part's upload raise."""

    def __init__(self, fail_part: int | None = None) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.fail_part = fail_part
        self.objects: dict[str, bytes] = {}
        self._parts: dict[int, bytes] = {}

    def put_object(self, **kw):
        self.calls.append(("put_object", kw))
        self.objects[kw["Key"]] = bytes(kw["Body"])

    def create_multipart_upload(self, **kw):
        self.calls.append(("create", kw))
        return {"UploadId": "u1"}

    def upload_part(self, **kw):
        self.calls.append(("part", kw))
        if kw["PartNumber"] == self.fail_part:
            raise ConnectionError("network down")
        self._parts[kw["PartNumber"]] = bytes(kw["Body"])
        return {"ETag": f"e{kw['PartNumber']}"}

    def complete_multipart_upload(self, **kw):
        self.calls.append(("complete", kw))
        numbers = [p["PartNumber"] for p in kw["MultipartUpload"]["Parts"]]
        self.objects[kw["Key"]] = b"".join(self._parts[n] for n in numbers)

    def abort_multipart_upload(self, **kw):
        self.calls.append(("abort", kw))


def _upload(client, blocks, part_bytes=10):
    upload = MultipartUpload(client, "b", "k.csv", part_bytes=part_bytes)
    upload.start()
    for block in blocks:
        upload.put(block)
    upload.finish()
    return upload


def test_a_file_within_one_block_is_a_single_put():
    client = FakeS3()
    _upload(client, [b"H\nrow\n"])
    assert [name for name, _ in client.calls] == ["put_object"]
    assert client.objects["k.csv"] == b"H\nrow\n"


def test_full_blocks_go_out_as_parts_while_more_come_and_the_tail_is_the_last_part():
    client = FakeS3()
    upload = _upload(client, [b"a" * 10, b"b" * 12, b"c" * 3])
    assert [name for name, _ in client.calls] == ["create", "part", "part", "part", "complete"]
    assert client.objects["k.csv"] == b"a" * 10 + b"b" * 12 + b"c" * 3
    assert upload.parts == 3


def test_a_failed_part_aborts_the_upload_and_reaches_the_producer():
    client = FakeS3(fail_part=1)
    upload = MultipartUpload(client, "b", "k.csv", part_bytes=10, maxsize=1)
    upload.start()
    with pytest.raises(ConnectionError):
        for _ in range(50):  # the producer is told, rather than blocked on a full queue
            upload.put(b"x" * 10)
        upload.finish()
    upload.abort()
    assert ("abort", {"Bucket": "b", "Key": "k.csv", "UploadId": "u1"}) in client.calls
    assert "k.csv" not in client.objects


def test_block_stream_hands_views_of_blocks_and_ends_with_the_writer():
    stream = BlockStream(maxsize=1)

    def write():
        for block in (b"abcdef", b"gh"):
            stream.put(block)
        stream.put(None)

    threading.Thread(target=write).start()
    pieces = []
    while piece := stream.read_buffer(4):
        pieces.append(bytes(piece))
    assert pieces == [b"abcd", b"ef", b"gh"]
    assert stream.read(4) == b""


def test_records_are_cut_outside_quoted_newlines():
    class Reads:
        def __init__(self, chunks):
            self.chunks = list(chunks)

        def read(self, size):
            return self.chunks.pop(0) if self.chunks else b""

    data = b'H\n1,"two\nlines"\n3,"a ""q"" and\nmore"\n4,x\n'
    chunks = [data[i : i + 7] for i in range(0, len(data), 7)]
    pieces = [bytes(p) for p in _whole_records(Reads(chunks), 7)]
    assert b"".join(pieces) == data
    for piece in pieces:
        assert piece.count(b'"') % 2 == 0
        assert piece.endswith(b"\n")
