"""
Load batch inference output into PostgreSQL cache tables, atomically and with lineage.

Each load writes a new snapshot table, indexes it, then repoints the cache's view
at it inside one transaction: readers see the old rows or the new rows, never a
mix, and a failed load leaves the live snapshot untouched. ``cache_loads`` records
every load (run, source, batch job, solution version, counts).
"""

from __future__ import annotations

import io
import logging
import tempfile
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from psycopg import sql

from personalize_pipeline.db import connect
from personalize_pipeline.s3_paths import split_s3_uri
from personalize_pipeline.sql_files import compose

log = logging.getLogger(__name__)

BLOCK_BYTES = 8 << 20

USER_OUTPUT_SCHEMA = pa.schema(
    [
        ("input", pa.struct([("userId", pa.string())])),
        (
            "output",
            pa.struct([("recommendedItems", pa.list_(pa.string())), ("scores", pa.list_(pa.float64()))]),
        ),
        ("error", pa.string()),
    ]
)


@dataclass(frozen=True)
class LoadResult:
    load_id: int
    snapshot_table: str
    rows: int
    keys: int
    errors: int

    def as_dict(self) -> dict[str, int | str]:
        return self.__dict__.copy()


def flatten_user_recommendations(batch: pa.RecordBatch) -> tuple[pa.Table, int, int]:
    """One row per (user, rank) from a block of output lines; also counts of users served and errors."""
    users = pc.struct_field(batch.column("input"), "userId")
    output = batch.column("output")
    items = pc.struct_field(output, "recommendedItems")
    scores = pc.struct_field(output, "scores")
    errors = batch.num_rows - pc.sum(pc.is_null(batch.column("error"))).as_py()

    served = pc.sum(pc.greater(pc.fill_null(pc.list_value_length(items), 0), 0)).as_py() or 0
    flat_items = pc.list_flatten(items)
    parents = pc.list_parent_indices(items)
    offsets = np.asarray(items.offsets) if len(items) else np.zeros(1, dtype=np.int32)
    positions = np.arange(len(flat_items), dtype=np.int64)
    ranks = positions - offsets[np.asarray(parents)] + 1 if len(flat_items) else positions
    flat_scores = pc.list_flatten(scores)
    if len(flat_scores) != len(flat_items):  # recipes without scores
        flat_scores = pa.nulls(len(flat_items), pa.float64())
    table = pa.table(
        {
            "user_id": pc.take(users, parents),
            "rank": pa.array(ranks, pa.int32()),
            "item_id": flat_items,
            "score": flat_scores,
        }
    )
    return table, served, errors


def _output_keys(s3: S3Hook, output_uri: str) -> list[str]:
    bucket, prefix = split_s3_uri(output_uri)
    keys = [k for k in s3.list_keys(bucket_name=bucket, prefix=prefix) or [] if k.endswith(".out")]
    if not keys:
        raise FileNotFoundError(f"no batch output (*.out) under {output_uri}")
    return sorted(keys)


def load_user_recommendations(
    *,
    db_conn_id: str,
    aws_conn_id: str | None,
    output_uri: str,
    schema: str,
    cache_name: str,
    keep_snapshots: int = 3,
    lineage: dict[str, str | None],
) -> LoadResult:
    """Load every ``*.out`` file under ``output_uri`` into a new snapshot and make it live."""
    s3 = S3Hook(aws_conn_id=aws_conn_id)
    bucket, _ = split_s3_uri(output_uri)
    keys = _output_keys(s3, output_uri)

    with connect(db_conn_id, autocommit=True) as conn:
        conn.execute(compose("cache/setup.sql", schema=schema))
        load_id = conn.execute(
            compose("cache/start_load.sql", schema=schema),
            {"cache_name": cache_name, "source_uri": output_uri, **lineage},
        ).fetchone()[0]
        snapshot = f"{cache_name}__load_{load_id}"
        try:
            result = _fill_snapshot(conn, s3, bucket, keys, schema, snapshot, load_id)
            with conn.transaction():
                conn.execute(
                    compose("cache/point_view.sql", view=(schema, cache_name), table=(schema, snapshot))
                )
                conn.execute(
                    compose("cache/mark_live.sql", schema=schema),
                    {
                        "load_id": load_id,
                        "cache_name": cache_name,
                        "row_count": result.rows,
                        "key_count": result.keys,
                        "error_count": result.errors,
                    },
                )
        except BaseException:
            conn.execute(compose("cache/mark_failed.sql", schema=schema), {"load_id": load_id})
            raise
        _drop_old_snapshots(conn, schema, cache_name, keep_snapshots)
    log.info(
        "Cache %s.%s now serves load %d (%d rows, %d users, %d error lines)",
        schema,
        cache_name,
        load_id,
        result.rows,
        result.keys,
        result.errors,
    )
    return result


def _fill_snapshot(
    conn, s3: S3Hook, bucket: str, keys: list[str], schema: str, snapshot: str, load_id: int
) -> LoadResult:
    rows = errors = users = 0
    with conn.transaction():
        conn.execute(
            sql.SQL("UPDATE {}.cache_loads SET snapshot_table = %s WHERE load_id = %s").format(
                sql.Identifier(schema)
            ),
            (snapshot, load_id),
        )
    with conn.transaction():
        conn.execute(compose("cache/user_recommendations_table.sql", table=(schema, snapshot)))
        copy_sql = sql.SQL("COPY {} (user_id, rank, item_id, score) FROM STDIN WITH (FORMAT csv)").format(
            sql.Identifier(schema, snapshot)
        )
        with conn.cursor().copy(copy_sql) as copy:
            for key in keys:
                with tempfile.NamedTemporaryFile(suffix=".out") as spool:
                    s3.get_key(key, bucket_name=bucket).download_fileobj(spool)
                    spool.flush()
                    reader = pa_json.open_json(
                        spool.name,
                        read_options=pa_json.ReadOptions(block_size=BLOCK_BYTES),
                        parse_options=pa_json.ParseOptions(
                            explicit_schema=USER_OUTPUT_SCHEMA, unexpected_field_behavior="ignore"
                        ),
                    )
                    for batch in reader:
                        table, served, block_errors = flatten_user_recommendations(batch)
                        errors += block_errors
                        users += served
                        rows += table.num_rows
                        buffer = io.BytesIO()
                        pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
                        copy.write(buffer.getbuffer())
        conn.execute(
            compose(
                "cache/user_recommendations_finish.sql",
                table=(schema, snapshot),
                primary_key=f"{snapshot}_pkey",
            )
        )
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, snapshot)))
    return LoadResult(load_id=load_id, snapshot_table=snapshot, rows=rows, keys=users, errors=errors)


def _drop_old_snapshots(conn, schema: str, cache_name: str, keep: int) -> None:
    stale = conn.execute(
        compose("cache/snapshots_to_drop.sql", schema=schema), {"cache_name": cache_name, "keep": keep}
    ).fetchall()
    for load_id, table in stale:
        with conn.transaction():
            if table:
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, table)))
            conn.execute(
                sql.SQL("UPDATE {}.cache_loads SET status = 'dropped' WHERE load_id = %s").format(
                    sql.Identifier(schema)
                ),
                (load_id,),
            )
        log.info("Dropped old cache snapshot %s.%s", schema, table)


def rollback(*, db_conn_id: str, schema: str, cache_name: str) -> int:
    """Serve the previous snapshot again (one transaction); returns the load id now live."""
    with connect(db_conn_id) as conn, conn.transaction():
        target = conn.execute(
            compose("cache/rollback_target.sql", schema=schema), {"cache_name": cache_name}
        ).fetchone()
        if target is None:
            raise LookupError(f"cache {schema}.{cache_name} has no previous snapshot to roll back to")
        target_id, table = target
        conn.execute(compose("cache/point_view.sql", view=(schema, cache_name), table=(schema, table)))
        conn.execute(
            compose("cache/mark_rolled_back.sql", schema=schema),
            {"cache_name": cache_name, "target_id": target_id},
        )
    log.info("Cache %s.%s rolled back to load %d (%s)", schema, cache_name, target_id, table)
    return target_id
