"""
Stream query results from PostgreSQL to CSV objects in S3, validating them on the way.

One pass: the ``COPY … TO STDOUT`` output is cut into blocks, and two threads take each
block as it is made, one uploading it as a part of an S3 multipart upload, the other validating
it (pyarrow, whole records at a time). The three overlap instead of running one after the other,
and memory is the few blocks in flight (bounded queues) whatever the row count. Nothing is
written to local disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector
from psycopg import sql

from personalize_pipeline.datasets import DatasetSpec
from personalize_pipeline.db import connect_copy_reader
from personalize_pipeline.s3_paths import split_s3_uri
from personalize_pipeline.sql_files import read_sql
from personalize_pipeline.validation import ValidationReport, validate_csv

log = logging.getLogger(__name__)

PART_BYTES = 8 << 20  # S3 parts must be 5 MiB or more (all but the last); also the unit handed on
QUEUED_BLOCKS = 2  # per consumer: how far the COPY may run ahead of the upload or the validation
PIPE_BYTES = 1 << 20  # the pipe between the COPY thread and the block reader
VALIDATE_BYTES = 2 << 20  # parsed at once by the validation; small, so its buffers stay small


def copy_blocks(
    db_conn_id: str, statement: sql.Composable, params: dict[str, Any], block_bytes: int = PART_BYTES
) -> Iterator[bytes]:
    """Yield the output of a ``COPY … TO STDOUT`` statement in blocks of exactly ``block_bytes``.

    Only the last block is shorter (it may be empty). Blocks end anywhere, not at row ends: their
    consumers are a byte stream and an S3 upload. A thread runs psycopg2's ``copy_expert``, whose
    per-row loop is C writing into a pipe; this generator reads the pipe a block at a time. No
    Python code runs per row, and the pipe with a buffer of ``PIPE_BYTES`` at each end is all that
    sits between the two. Values are bound by the driver (``mogrify``). An error of the COPY is
    raised before its last block; a consumer that stops early cancels the query.
    """
    conn = connect_copy_reader(db_conn_id)
    read_end, write_end = os.pipe()
    with contextlib.suppress(AttributeError, OSError):  # Linux: a larger pipe means fewer wakeups
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    failure: list[BaseException] = []

    def copy_out() -> None:
        try:
            with conn.cursor() as cur, open(write_end, "wb", buffering=PIPE_BYTES) as sink:
                cur.copy_expert(cur.mogrify(statement.as_string(), params or None).decode(), sink)
        except BaseException as error:  # raised by the reader below
            failure.append(error)

    writer = threading.Thread(target=copy_out, name="copy out", daemon=True)
    writer.start()
    finished = False
    try:
        with open(read_end, "rb", buffering=PIPE_BYTES) as source:
            while True:
                block = source.read(block_bytes)
                if len(block) < block_bytes:  # the writer has closed the pipe: it has ended
                    writer.join()
                    if failure:
                        raise failure[0]
                    finished = True
                    yield block
                    return
                yield block
    finally:
        if not finished:  # the consumer stopped early or failed: stop the query, then the thread
            with contextlib.suppress(Exception):
                conn.cancel()
            writer.join()
        conn.close()


def copy_query_blocks(
    db_conn_id: str, query_file: str, params: dict[str, Any], block_bytes: int = PART_BYTES
) -> Iterator[bytes]:
    """``COPY (<include/sql/query_file>) TO STDOUT`` as CSV with a header, in blocks (see copy_blocks)."""
    statement = sql.SQL("COPY (\n{}\n) TO STDOUT WITH (FORMAT csv, HEADER true)").format(
        sql.SQL(read_sql(query_file))
    )
    return copy_blocks(db_conn_id, statement, params, block_bytes)


def copy_to_s3(
    *,
    db_conn_id: str,
    aws_conn_id: str | None,
    statement: sql.Composable,
    params: dict[str, Any],
    s3_uri: str,
) -> int:
    """Stream a ``COPY … TO STDOUT`` statement's output to one S3 object; returns its line count."""
    bucket, key = split_s3_uri(s3_uri)
    s3 = S3Hook(aws_conn_id=aws_conn_id)
    upload = MultipartUpload(s3.get_conn, bucket, key, extra_args=s3.extra_args)
    upload.start()
    lines = 0
    try:
        for block in copy_blocks(db_conn_id, statement, params):
            lines += block.count(b"\n")
            upload.put(block)
    except BaseException:
        upload.abort()
        raise
    upload.finish()
    return lines


class BlockStream:
    """A read-only binary file fed with blocks by another thread: what the validation reads.

    ``put`` waits while ``maxsize`` blocks are queued, which bounds memory, so the reader must
    read to the end (``drain``) even when it stops early, or the writer would wait forever.
    """

    closed = False

    def __init__(self, maxsize: int = QUEUED_BLOCKS) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize)
        self._block = memoryview(b"")
        self._eof = False

    def put(self, block: bytes | None) -> None:
        """Append a block; ``None`` ends the stream."""
        self._queue.put(block)

    def readable(self) -> bool:
        return True

    def read_buffer(self, size: int | None = -1) -> memoryview:
        """Up to ``size`` bytes of the current block, without copying (preferred to ``read``).

        A read stops at the end of a block; an empty result means the end of the stream.
        """
        while not self._block and not self._eof:
            block = self._queue.get()
            if block is None:
                self._eof = True
            else:
                self._block = memoryview(block)
        end = len(self._block) if size is None or size < 0 else size
        part, self._block = self._block[:end], self._block[end:]
        return part

    def read(self, size: int | None = -1) -> bytes:
        return bytes(self.read_buffer(size))

    def drain(self) -> None:
        """Read and drop everything left, up to the end of the stream."""
        self._block = memoryview(b"")
        while not self._eof:
            self._eof = self._queue.get() is None

    def close(self) -> None:
        """Nothing to release: the writer owns the stream."""


class MultipartUpload(threading.Thread):
    """Upload blocks to one S3 object while they are produced, on a thread of its own.

    Every block of ``part_bytes`` or more is sent as soon as it arrives, as the next part of a
    multipart upload; a shorter block must be the last. A file that fits in one short block
    (small datasets) is a single PUT. On failure or ``abort`` the multipart upload is aborted, so
    no half object appears and no orphan parts are billed. The client is made by ``connect`` on
    the upload's thread, so that setup overlaps with the query's first seconds.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        bucket: str,
        key: str,
        *,
        extra_args: dict[str, Any] | None = None,
        part_bytes: int = PART_BYTES,
        maxsize: int = QUEUED_BLOCKS,
    ) -> None:
        super().__init__(name=f"upload s3://{bucket}/{key}", daemon=True)
        self._connect, self._bucket, self._key = connect, bucket, key
        self._client: Any = None
        self._extra_args = extra_args or {}
        self._part_bytes = part_bytes
        self._queue: queue.Queue[tuple[str, bytes]] = queue.Queue(maxsize)
        self.error: BaseException | None = None
        self.parts = 0

    def put(self, block: bytes) -> None:
        """Queue a block (waiting while the queue is full); raises the upload's error, if any."""
        if self.error is not None:
            raise self.error
        self._queue.put(("block", block))

    def finish(self) -> None:
        """Complete the object and wait; raises the upload's error, if any."""
        self._queue.put(("end", b""))
        self.join()
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        """Drop the upload (the export failed) and wait."""
        self._queue.put(("abort", b""))
        self.join()

    def run(self) -> None:
        upload_id: str | None = None
        etags: list[str] = []
        tail: bytes | None = None
        command = "block"  # until the producer says otherwise, it may be sending blocks
        try:
            self._client = self._connect()
            while True:
                command, block = self._queue.get()
                if command != "block":
                    break
                if tail is not None:
                    raise ValueError("only the last block may be shorter than a part")
                if len(block) < self._part_bytes:
                    tail = block
                    continue
                if upload_id is None:
                    upload_id = self._client.create_multipart_upload(
                        Bucket=self._bucket, Key=self._key, **self._extra_args
                    )["UploadId"]
                etags.append(self._upload_part(upload_id, len(etags) + 1, block))
            if command == "abort":
                return
            if upload_id is None:
                self._client.put_object(
                    Bucket=self._bucket, Key=self._key, Body=tail or b"", **self._extra_args
                )
                self.parts = 1
                return
            if tail:
                etags.append(self._upload_part(upload_id, len(etags) + 1, tail))
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)]},
            )
            upload_id, self.parts = None, len(etags)
        except BaseException as error:  # handed to the producer, which raises it
            self.error = error
            while command == "block":  # keep taking blocks so the producer never waits forever
                command, _ = self._queue.get()
        finally:
            if upload_id is not None:
                try:
                    self._client.abort_multipart_upload(
                        Bucket=self._bucket, Key=self._key, UploadId=upload_id
                    )
                except Exception:
                    log.warning("Could not abort the multipart upload of s3://%s/%s", self._bucket, self._key)

    def _upload_part(self, upload_id: str, number: int, body: bytes) -> str:
        return self._client.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=upload_id, PartNumber=number, Body=body
        )["ETag"]


def export_dataset_to_s3(
    *,
    db_conn_id: str,
    aws_conn_id: str | None,
    spec: DatasetSpec,
    params: dict[str, Any],
    s3_uri: str,
    report_uri: str,
    allowed_event_types: set[str] | None = None,
    check_minimums: bool = True,
    part_bytes: int = PART_BYTES,
) -> dict[str, Any]:
    """
    Export one dataset, validate it, and upload the CSV and its validation report.

    Both files are uploaded even when validation fails, so nothing is lost and the report
    sits next to the data it describes; the task then fails before any import exists.
    ``check_minimums`` is off when the dataset is one slice of what will be imported.
    """
    bucket, key = split_s3_uri(s3_uri)
    report_bucket, report_key = split_s3_uri(report_uri)
    s3 = S3Hook(aws_conn_id=aws_conn_id)
    upload = MultipartUpload(s3.get_conn, bucket, key, extra_args=s3.extra_args, part_bytes=part_bytes)
    stream = BlockStream()
    outcome: dict[str, Any] = {}

    def validate() -> None:
        try:
            outcome["report"] = validate_csv(
                stream,
                s3_uri,
                spec,
                allowed_event_types=allowed_event_types,
                check_minimums=check_minimums,
                block_size=VALIDATE_BYTES,
            )
        except BaseException as error:  # raised on the caller's thread below
            outcome["error"] = error
        finally:
            stream.drain()

    validator = threading.Thread(target=validate, name=f"validate {s3_uri}", daemon=True)
    upload.start()
    validator.start()
    newlines = 0
    try:
        for block in copy_query_blocks(db_conn_id, spec.query_file, params, part_bytes):
            newlines += block.count(b"\n")
            upload.put(block)
            stream.put(block)
    except BaseException:
        upload.abort()
        stream.put(None)
        validator.join()
        raise
    stream.put(None)
    upload.finish()
    validator.join()
    if "error" in outcome:
        raise outcome["error"]
    report: ValidationReport = outcome["report"]
    rows = max(newlines - 1, 0)
    report.stats["exported_rows"] = rows
    get_hook_lineage_collector().add_output_asset(
        context=s3, scheme="s3", asset_kwargs={"bucket": bucket, "key": key}
    )
    s3.load_string(
        json.dumps(report.as_dict(), indent=2), key=report_key, bucket_name=report_bucket, replace=True
    )
    log.info(
        "Exported %d rows of %s to %s in %d part(s); validation %s",
        rows,
        spec.query_file,
        s3_uri,
        upload.parts,
        "passed" if report.ok else "FAILED",
    )
    report.raise_if_failed()
    return report.as_dict()
