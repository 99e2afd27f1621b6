"""Stream query results from PostgreSQL to CSV objects in S3 (COPY; memory does not grow with rows)."""

from __future__ import annotations

import logging
import tempfile
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from psycopg import sql

from personalize_pipeline.db import connect
from personalize_pipeline.s3_paths import split_s3_uri
from personalize_pipeline.sql_files import read_sql

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


def export_query_to_s3(
    *, db_conn_id: str, aws_conn_id: str | None, query_file: str, params: dict[str, Any], s3_uri: str
) -> int:
    """Export one query to ``s3_uri`` (overwriting it), spooling through a temporary file."""
    bucket, key = split_s3_uri(s3_uri)
    with tempfile.NamedTemporaryFile(suffix=".csv") as spool:
        rows = copy_query_to_file(db_conn_id, query_file, params, spool)
        spool.flush()
        S3Hook(aws_conn_id=aws_conn_id).load_file(spool.name, key=key, bucket_name=bucket, replace=True)
    log.info("Exported %d rows of %s to %s", rows, query_file, s3_uri)
    return rows
