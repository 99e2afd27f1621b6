"""Stream query results from PostgreSQL to CSV objects in S3 (COPY; memory does not grow with rows)."""

from __future__ import annotations

import json
import logging
import tempfile
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from psycopg import sql

from personalize_pipeline.datasets import DatasetSpec
from personalize_pipeline.db import connect
from personalize_pipeline.s3_paths import split_s3_uri
from personalize_pipeline.sql_files import read_sql
from personalize_pipeline.validation import validate_csv

log = logging.getLogger(__name__)


def copy_query_to_file(db_conn_id: str, query_file: str, params: dict[str, Any], fileobj) -> int:
    """Write ``COPY (<query>) TO STDOUT`` as CSV with a header; return the number of data rows."""
    statement = sql.SQL("COPY (\n{}\n) TO STDOUT WITH (FORMAT csv, HEADER true)").format(
        sql.SQL(read_sql(query_file))
    )
    newlines = 0
    with connect(db_conn_id) as conn, conn.cursor() as cur:
        query = statement.as_string(conn)
        with cur.copy(query, params or None) as copy:
            for chunk in copy:
                newlines += bytes(chunk).count(b"\n")
                fileobj.write(chunk)
    return max(newlines - 1, 0)


def export_dataset_to_s3(
    *,
    db_conn_id: str,
    aws_conn_id: str | None,
    spec: DatasetSpec,
    params: dict[str, Any],
    s3_uri: str,
    report_uri: str,
    allowed_event_types: set[str] | None = None,
) -> dict[str, Any]:
    """
    Export one dataset, validate it, and upload the CSV and its validation report.

    Both files are uploaded even when validation fails, so nothing is lost and the report
    sits next to the data it describes; the task then fails before any import exists.
    """
    bucket, key = split_s3_uri(s3_uri)
    report_bucket, report_key = split_s3_uri(report_uri)
    s3 = S3Hook(aws_conn_id=aws_conn_id)
    with tempfile.NamedTemporaryFile(suffix=".csv") as spool:
        rows = copy_query_to_file(db_conn_id, spec.query_file, params, spool)
        spool.flush()
        report = validate_csv(spool.name, s3_uri, spec, allowed_event_types=allowed_event_types)
        report.stats["exported_rows"] = rows
        s3.load_file(spool.name, key=key, bucket_name=bucket, replace=True)
    s3.load_string(
        json.dumps(report.as_dict(), indent=2), key=report_key, bucket_name=report_bucket, replace=True
    )
    log.info(
        "Exported %d rows of %s to %s; validation %s",
        rows,
        spec.query_file,
        s3_uri,
        "passed" if report.ok else "FAILED",
    )
    report.raise_if_failed()
    return report.as_dict()
