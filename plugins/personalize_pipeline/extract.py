"""
Stream query results from PostgreSQL to CSV objects in S3, validating them on the way.

One pass: the ``COPY … TO STDOUT`` output is cut into blocks, and two threads take each
block as it is made, one uploading it as a part of an S3 multipart upload, the other validating
it (pyarrow, whole records at a time). The three overlap instead of running one after the other,
and memory is the few blocks in flight (bounded queues) whatever the row count. Nothing is
written to local disk.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, BinaryIO

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector
from psycopg import sql

from personalize_pipeline.datasets import DatasetSpec
from personalize_pipeline.db import connect_copy_reader
from personalize_pipeline.multipart_upload import PART_BYTES, QUEUED_BLOCKS, MultipartUpload
from personalize_pipeline.s3_paths import split_s3_uri
from personalize_pipeline.sql_files import compose, read_sql
from personalize_pipeline.streams import BlockStream, Worker, piped_blocks
from personalize_pipeline.validation import ValidationReport, validate_csv

log = logging.getLogger(__name__)

VALIDATE_BYTES = 2 << 20  # parsed at once by the validation; small, so its buffers stay small


def copy_blocks(
    db_conn_id: str, statement: sql.Composable, params: dict[str, Any], block_bytes: int = PART_BYTES
) -> Iterator[bytes]:
    """Yield the output of a ``COPY … TO STDOUT`` statement in blocks of exactly ``block_bytes``.

    Only the last block is shorter (it may be empty). Blocks end anywhere, not at row ends: their
    consumers are a byte stream and an S3 upload. psycopg2's ``copy_expert``, whose per-row loop
    is C, writes into ``piped_blocks``: no Python code runs per row. Values are bound by the
    driver (``mogrify``). An error of the COPY is raised before its last block; a consumer that
    stops early cancels the query.
    """
    conn = connect_copy_reader(db_conn_id)

    def copy_out(sink: BinaryIO) -> None:
        with conn.cursor() as cur:
            cur.copy_expert(cur.mogrify(statement.as_string(), params or None).decode(), sink)

    try:
        yield from piped_blocks(copy_out, block_bytes, cancel=conn.cancel, name="copy out")
    finally:
        conn.close()


def copy_query_blocks(
    db_conn_id: str, query_file: str, params: dict[str, Any], block_bytes: int = PART_BYTES
) -> Iterator[bytes]:
    """``COPY (<include/sql/query_file>) TO STDOUT`` as CSV with a header, in blocks (see copy_blocks)."""
    statement = compose("extract/csv_copy.sql", query=sql.SQL(read_sql(query_file)))
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
    stream = BlockStream(QUEUED_BLOCKS)

    def validate() -> ValidationReport:
        try:
            return validate_csv(
                stream,
                s3_uri,
                spec,
                allowed_event_types=allowed_event_types,
                check_minimums=check_minimums,
                block_size=VALIDATE_BYTES,
            )
        finally:
            stream.drain()

    validator = Worker(validate, name=f"validate {s3_uri}")
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
    report: ValidationReport = validator.result()
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
