"""
Load batch job output and fallback lists into PostgreSQL cache tables, atomically and with lineage.

What a load reads differs (batch output in S3, a fallback query on the store); how it becomes
live is the same for both: see ``snapshots``. ``rollback`` serves the previous snapshot again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from psycopg import sql

from personalize_pipeline.batch_output import LAYOUTS, copy_output, output_keys
from personalize_pipeline.db import connect, run_setup, set_local
from personalize_pipeline.s3_paths import split_s3_uri
from personalize_pipeline.snapshots import LoadResult, load_snapshot, rollback, whole_table_view
from personalize_pipeline.sql_files import compose, read_sql

__all__ = ["create_lookup_function", "load_batch_output", "load_fallback", "rollback"]

FALLBACK_KINDS = ("popular", "trending")
FALLBACK_COLUMNS = ("rank", "item_id", "score")


def load_batch_output(
    *,
    db_conn_id: str,
    aws_conn_id: str | None,
    output_uri: str,
    schema: str,
    cache_name: str,
    recipe_type: str,
    keep_snapshots: int = 3,
    lineage: dict[str, Any],
) -> LoadResult:
    """Load every ``*.out`` file under ``output_uri`` (one recipe type's layout) and make it live."""
    if recipe_type not in LAYOUTS:
        raise ValueError(f"unknown recipe type {recipe_type!r}; use one of {sorted(LAYOUTS)}")
    layout = LAYOUTS[recipe_type]
    s3 = S3Hook(aws_conn_id=aws_conn_id)
    bucket, _ = split_s3_uri(output_uri)
    keys = output_keys(s3, output_uri)

    def fill(conn, table: tuple[str, str]) -> tuple[int, int, int]:
        return copy_output(conn, s3, bucket, keys, layout, table)

    return load_snapshot(
        db_conn_id=db_conn_id,
        schema=schema,
        cache_name=cache_name,
        kind=recipe_type,
        source_uri=output_uri,
        lineage=lineage,
        keep_snapshots=keep_snapshots,
        table_sql=layout.table_sql,
        key_columns=(layout.key,),
        fill=fill,
        point_view=layout.view,
    )


def load_fallback(
    *,
    source_conn_id: str,
    cache_conn_id: str,
    schema: str,
    cache_name: str,
    kind: str,
    days: int,
    size: int,
    as_of: datetime,
    keep_snapshots: int = 3,
    lineage: dict[str, Any],
) -> LoadResult:
    """Compute the ``popular`` or ``trending`` list in the store and stream it into a new snapshot.

    The rows go COPY TO STDOUT on the store straight into COPY FROM STDIN on the cache, so the
    two may be different databases and no row passes through Python objects.
    """
    if kind not in FALLBACK_KINDS:
        raise ValueError(f"unknown fallback kind {kind!r}; use one of {list(FALLBACK_KINDS)}")
    window = days * (2 if kind == "trending" else 1)  # trending compares two windows
    window_bounds = {"data_interval_start": as_of - timedelta(days=window), "data_interval_end": as_of}
    lineage = {**lineage, **{k: v for k, v in window_bounds.items() if lineage.get(k) is None}}
    params = {"as_of": as_of, "days": days, "size": size}
    query = compose("fallback/copy_out.sql", query=sql.SQL(read_sql(f"fallback/{kind}.sql")))

    def fill(conn, table: tuple[str, str]) -> tuple[int, int, int]:
        copy_in = compose("cache/copy_in.sql", table=table, columns=list(FALLBACK_COLUMNS))
        with connect(source_conn_id) as source, source.cursor() as out_cur, conn.cursor() as in_cur:
            with out_cur.copy(query.as_string(source), params) as out, in_cur.copy(copy_in) as into:
                for chunk in out:
                    into.write(chunk)
            rows = in_cur.rowcount
        return rows, rows, 0

    return load_snapshot(
        db_conn_id=cache_conn_id,
        schema=schema,
        cache_name=cache_name,
        kind=kind,
        source_uri=f"postgresql://{source_conn_id}/fallback/{kind}.sql",
        lineage=lineage,
        keep_snapshots=keep_snapshots,
        table_sql="cache/fallback_table.sql",
        key_columns=("rank",),
        fill=fill,
        point_view=whole_table_view,
    )


def create_lookup_function(
    *,
    db_conn_id: str,
    schema: str,
    user_cache: str,
    popular_cache: str,
    function_name: str = "recommendations_for",
) -> str:
    """(Re)create ``<schema>.<function_name>(p_user_id, p_limit)``: personalized rows, else popular ones.

    The body is one SELECT so PostgreSQL inlines it into the caller's query, and the user lookup is
    an equality on the snapshot's primary key. Returns the function's qualified name.
    """
    with connect(db_conn_id) as conn:
        run_setup(conn, "cache/setup.sql", schema=schema)
        with conn.transaction():
            body = compose(
                "cache/lookup_body.sql", user_cache=(schema, user_cache), popular=(schema, popular_cache)
            )
            # The views may not exist yet on a fresh database; they are resolved at call time.
            set_local(conn, "check_function_bodies", "off")
            conn.execute(
                compose(
                    "cache/lookup_function.sql",
                    function=(schema, function_name),
                    body=sql.Literal(body.as_string(conn)),
                )
            )
    return f"{schema}.{function_name}"
