"""Build batch job input (JSON Lines) from the database and stream it to S3."""

from __future__ import annotations

import logging
from typing import Any

from psycopg import sql

from personalize_pipeline.extract import copy_to_s3
from personalize_pipeline.sql_files import compose, read_sql

log = logging.getLogger(__name__)


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
    statement = compose(
        "batch_input/json_lines_copy.sql",
        key=sql.Literal(json_key),
        column=column,
        query=sql.SQL(read_sql(query_file)),
    )
    lines = copy_to_s3(
        db_conn_id=db_conn_id, aws_conn_id=aws_conn_id, statement=statement, params=params, s3_uri=s3_uri
    )
    log.info("Wrote %d batch input lines to %s", lines, s3_uri)
    return lines
