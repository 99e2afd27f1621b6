"""Build batch inference input (JSON Lines) from the database and put it in S3."""

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

# PostgreSQL renders each line as JSON; CSV with control characters that JSON always escapes as
# delimiter and quote passes the text through untouched (text format would double backslashes).
_JSON_LINES_COPY = (
    "COPY (SELECT json_build_object({key}, q.{column})::text FROM (\n{query}\n) AS q) "
    "TO STDOUT WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')"
)


def export_json_lines(
    *,
    db_conn_id: str,
    aws_conn_id: str | None,
    query_file: str,
    column: str,
    json_key: str,
    params: dict[str, Any],
    s3_uri: str,
) -> int:
    """One ``{"<json_key>": value}`` line per row of the query; returns the number of lines."""
    statement = sql.SQL(_JSON_LINES_COPY).format(
        key=sql.Literal(json_key), column=sql.Identifier(column), query=sql.SQL(read_sql(query_file))
    )
    bucket, key = split_s3_uri(s3_uri)
    lines = 0
    with tempfile.NamedTemporaryFile(suffix=".json") as spool:
        with (
            connect(db_conn_id) as conn,
            conn.cursor() as cur,
            cur.copy(statement.as_string(conn), params or None) as copy,
        ):
            for chunk in copy:
                lines += bytes(chunk).count(b"\n")
                spool.write(chunk)
        spool.flush()
        S3Hook(aws_conn_id=aws_conn_id).load_file(spool.name, key=key, bucket_name=bucket, replace=True)
    log.info("Wrote %d batch input lines to %s", lines, s3_uri)
    return lines
