"""The one-pass export: blocks reach the upload and the validation as the COPY makes them."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from psycopg import sql
from psycopg2.errors import DivisionByZero

from personalize_pipeline.extract import copy_blocks, copy_to_s3
from personalize_pipeline.multipart_upload import PART_BYTES, MultipartUpload
from personalize_pipeline.sql_files import compose
from personalize_pipeline.streams import BlockStream
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
    upload = MultipartUpload(lambda: client, "b", "k.csv", part_bytes=part_bytes)
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
    upload = MultipartUpload(lambda: client, "b", "k.csv", part_bytes=10, maxsize=1)
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


def _series_copy(rows: int, fail_at: int | None = None) -> sql.Composable:
    """COPY of ``rows`` numbered lines; with ``fail_at``, the server raises at that row."""
    value = "n" if fail_at is None else f"CASE WHEN n = {fail_at} THEN 1 / (n - n) ELSE n END"
    return sql.SQL(
        "COPY (SELECT {value} AS n, %(tag)s AS tag FROM generate_series(1, %(rows)s) AS n) TO STDOUT"
    ).format(value=sql.SQL(value))


def test_copy_blocks_are_exact_and_bound_their_parameters(pipeline_env):
    tag = "it's; DROP TABLE x"  # a value, bound by the driver, never spliced into the statement
    blocks = list(copy_blocks("store_db", _series_copy(50_000), {"tag": tag, "rows": 50_000}, 65_536))
    assert all(len(block) == 65_536 for block in blocks[:-1])
    assert 0 < len(blocks[-1]) < 65_536
    lines = b"".join(blocks).decode().splitlines()
    assert lines[0] == f"1\t{tag}" and lines[-1] == f"50000\t{tag}" and len(lines) == 50_000


def test_a_failing_copy_raises_before_its_last_block(pipeline_env):
    received = []
    with pytest.raises(DivisionByZero):
        for block in copy_blocks(
            "store_db", _series_copy(200_000, fail_at=150_000), {"tag": "t", "rows": 200_000}, 65_536
        ):
            received.append(block)
    assert all(len(block) == 65_536 for block in received)  # no short block passed for the end


def test_stopping_early_cancels_the_query(pipeline_env):
    # A set-returning function in the select list streams: rows flow at once, for hours if let run.
    endless = sql.SQL("COPY (SELECT generate_series(1, %(rows)s), %(tag)s) TO STDOUT")
    blocks = copy_blocks("store_db", endless, {"tag": "t", "rows": 10**12}, 4096)
    next(blocks)
    blocks.close()  # what a consumer's failure does: the server query must not run on
    with psycopg.connect(pipeline_env["database_url"], autocommit=True) as conn:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            running = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()",
                ("COPY (SELECT generate_series(%",),
            ).fetchone()[0]
            if not running:
                break
            time.sleep(0.1)
    assert running == 0


def test_a_client_that_cannot_be_made_fails_the_producer_without_a_hang():
    def connect():
        raise PermissionError("no credentials")

    upload = MultipartUpload(connect, "b", "k.csv", part_bytes=10, maxsize=1)
    upload.start()
    with pytest.raises(PermissionError):
        for _ in range(50):
            upload.put(b"x" * 10)
        upload.finish()
    upload.abort()


# Interaction-shaped rows, generated in PostgreSQL: about 33 bytes a line.
GENERATED_INTERACTIONS = sql.SQL(
    "SELECT 'u' || mod(n, 50000) AS user_id, 'i' || mod(n, 997) AS item_id, 1700000000 + n AS timestamp, "
    "CASE WHEN mod(n, 10) = 0 THEN 'purchase' ELSE 'click' END AS event_type "
    "FROM generate_series(1, %(rows)s) AS n ORDER BY n"
)


def test_an_export_past_two_part_sizes_is_uploaded_in_parts_and_equals_a_bare_copy(pipeline_env, aws_clients):
    """The real 8 MiB part size, against S3 (moto): three parts, the last one short."""
    s3, bucket = aws_clients("s3"), pipeline_env["bucket"]
    key = f"extract-tests/multipart-{time.time_ns()}.csv"
    statement = compose("extract/csv_copy.sql", query=GENERATED_INTERACTIONS)
    params = {"rows": 700_000}

    lines = copy_to_s3(
        db_conn_id="store_db",
        aws_conn_id="aws_default",
        statement=statement,
        params=params,
        s3_uri=f"s3://{bucket}/{key}",
    )

    with (
        psycopg.connect(pipeline_env["database_url"]) as conn,
        conn.cursor() as cur,
        cur.copy(statement, params) as copy,
    ):
        expected = b"".join(bytes(chunk) for chunk in copy)
    assert 2 * PART_BYTES < len(expected) < 3 * PART_BYTES
    uploaded = s3.get_object(Bucket=bucket, Key=key)
    assert uploaded["Body"].read() == expected
    assert lines == expected.count(b"\n") == 700_001
    # A multipart object's ETag ends with its number of parts; a single PUT's has no suffix.
    assert uploaded["ETag"].strip('"').endswith("-3")
    assert (
        s3.head_object(Bucket=bucket, Key=key, PartNumber=3)["ContentLength"]
        == len(expected) - 2 * PART_BYTES
    )


@pytest.mark.parametrize(("query_file", "table"), [("items.sql", "products"), ("users.sql", "customers")])
def test_snapshots_hold_what_existed_at_the_interval_end(pipeline_env, query_file, table):
    from devenv import datagen
    from personalize_pipeline.extract import copy_query_blocks

    url = pipeline_env["database_url"]
    datagen.load(url, datagen.generate("tiny"))
    with psycopg.connect(url) as conn:
        end, total = conn.execute(
            f"SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY created_at), count(*) FROM store.{table}"
        ).fetchone()
        existed = conn.execute(f"SELECT count(*) FROM store.{table} WHERE created_at < %s", [end]).fetchone()[
            0
        ]
    assert 0 < existed < total  # some rows were created after the interval's end
    body = b"".join(copy_query_blocks("store_db", f"extract/{query_file}", {"start": end, "end": end}))
    assert body.decode().count("\n") - 1 == existed
