"""
Batch job output (JSON Lines in S3) parsed into snapshot rows and copied into a table.

A batch output snapshot holds one row per key with its ranked list as arrays (for example
``user_id``, ``item_ids``, ``scores``); the cache's view unnests them into one row per
(key, rank), which is what readers query. At 180k customers × 25 that is 180k rows to
copy and index instead of 4.5M, and a lookup is still one primary-key probe.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pgpq
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from psycopg import sql

from personalize_pipeline.recipes import RECIPE_TYPES, RecipeType
from personalize_pipeline.s3_paths import split_s3_uri
from personalize_pipeline.sql_files import compose
from personalize_pipeline.streams import in_background

BLOCK_BYTES = 4 << 20  # batch output read and parsed at once: sets the load's memory

_ITEMS = pa.list_(pa.string())
_SCORES = pa.list_(pa.float64())


@dataclass(frozen=True)
class Layout:
    """How one recipe type's output lines become snapshot rows, and how the view shows them
    (the shapes themselves are declared in :mod:`personalize_pipeline.recipes`)."""

    recipe_type: RecipeType

    @property
    def input_key(self) -> str:
        return self.recipe_type.input_key

    @property
    def list_fields(self) -> tuple[str, ...]:
        return self.recipe_type.output_lists

    @property
    def scored(self) -> bool:
        return self.recipe_type.scored

    @property
    def columns(self) -> tuple[str, ...]:
        return self.recipe_type.cache_columns

    @property
    def table_sql(self) -> str:
        return self.recipe_type.snapshot_sql

    @property
    def key(self) -> str:
        return self.columns[0]

    @property
    def list_column(self) -> str:
        """The snapshot's array of ranked values, e.g. ``item_ids``."""
        return f"{self.columns[2]}s"

    @property
    def snapshot_columns(self) -> tuple[str, ...]:
        return (self.key, self.list_column, *(("scores",) if self.scored else ()))

    @property
    def row_schema(self) -> pa.Schema:
        """The snapshot rows as Arrow: what ``ranked_lists`` makes and the COPY encoder takes."""
        lists = [(self.list_column, _ITEMS), *((("scores", _SCORES),) if self.scored else ())]
        return pa.schema([(self.key, pa.string()), *lists])

    @property
    def schema(self) -> pa.Schema:
        output = [(name, _ITEMS) for name in self.list_fields]
        if self.scored:
            output.append(("scores", _SCORES))
        return pa.schema(
            [
                ("input", pa.struct([(self.input_key, pa.string())])),
                ("output", pa.struct(output)),
                ("error", pa.string()),
            ]
        )

    def view(self, view: tuple[str, str], table: tuple[str, str]) -> sql.Composed:
        """The statement that points ``view`` at ``table``, one row per (key, rank)."""
        return compose(
            "cache/scored_list_view.sql" if self.scored else "cache/list_view.sql",
            view=view,
            table=table,
            key=self.key,
            value=self.columns[2],
            values=self.list_column,
        )


LAYOUTS: dict[str, Layout] = {name: Layout(recipe_type) for name, recipe_type in RECIPE_TYPES.items()}


@dataclass(frozen=True)
class RankedLists:
    """A block of output lines as snapshot rows: one per key that was served a non-empty list."""

    table: pa.Table
    values: int  # ranked values in all lists: the rows the view shows
    errors: int  # lines the job could not serve


def ranked_lists(batch: pa.RecordBatch, layout: Layout) -> RankedLists:
    """Keys with their lists (and scores: null for a line whose scores do not match its list)."""
    keys = pc.struct_field(batch.column("input"), layout.input_key)
    output = batch.column("output")
    fields = [pc.struct_field(output, name) for name in layout.list_fields]
    items = fields[0] if len(fields) == 1 else pc.coalesce(*fields)
    errors = batch.num_rows - (pc.sum(pc.is_null(batch.column("error"))).as_py() or 0)
    lengths = pc.fill_null(pc.list_value_length(items), 0)
    columns = {layout.key: keys, layout.list_column: items}
    if layout.scored:
        scores = pc.struct_field(output, "scores")
        matches = pc.fill_null(pc.equal(pc.list_value_length(scores), lengths), False)
        columns["scores"] = pc.if_else(matches, scores, pa.scalar(None, _SCORES))
    served = pc.greater(lengths, 0)
    return RankedLists(pa.table(columns).filter(served), pc.sum(lengths).as_py() or 0, errors)


def output_keys(s3: S3Hook, output_uri: str) -> list[str]:
    """The job's output files under ``output_uri``, in name order."""
    bucket, prefix = split_s3_uri(output_uri)
    keys = [k for k in s3.list_keys(bucket_name=bucket, prefix=prefix) or [] if k.endswith(".out")]
    if not keys:
        raise FileNotFoundError(f"no batch output (*.out) under {output_uri}")
    return sorted(keys)


def copy_output(
    conn, s3: S3Hook, bucket: str, keys: list[str], layout: Layout, table: tuple[str, str]
) -> tuple[int, int, int]:
    """Stream each output file through parse, flatten and binary encoding into one COPY.

    Download, parsing and the COPY run in three threads joined by small queues, so the server
    never waits for the client and memory holds a few blocks whatever the number of rows. pgpq
    encodes the Arrow rows in PostgreSQL's binary COPY format, so the server skips text parsing
    and Python never touches a row. Returns the ranked values (the view's rows), the keys served
    and the error lines.
    """
    counts = [0, 0, 0]
    encoder = pgpq.ArrowToPostgresBinaryEncoder(layout.row_schema)

    def encoded() -> Iterator[bytes]:
        yield encoder.write_header()
        for key in keys:
            body = s3.get_key(key, bucket_name=bucket).get()["Body"]
            for block in _line_blocks(in_background(_chunks(body), name="cache-load download")):
                for batch in _parse_block(block, layout.schema).to_batches():
                    lists = ranked_lists(batch, layout)
                    counts[0] += lists.values
                    counts[1] += lists.table.num_rows
                    counts[2] += lists.errors
                    for rows in lists.table.to_batches():
                        if encoded_rows := encoder.write_batch(rows):  # empty while pgpq buffers
                            yield encoded_rows
        yield encoder.finish()  # the rows still buffered, then the end of the COPY

    copy_in = compose("cache/copy_in_binary.sql", table=table, columns=list(layout.snapshot_columns))
    with conn.cursor().copy(copy_in) as copy:
        for buffer in in_background(encoded(), name="cache-load parse"):
            copy.write(buffer)
    return counts[0], counts[1], counts[2]


def _chunks(body) -> Iterator[bytes]:
    while chunk := body.read(BLOCK_BYTES):
        yield chunk


def _line_blocks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Regroup byte chunks into blocks that end at a line break (the last one may not)."""
    rest = b""
    for chunk in chunks:
        cut = chunk.rfind(b"\n")
        if cut < 0:
            rest += chunk
            continue
        yield rest + chunk[: cut + 1]
        rest = chunk[cut + 1 :]
    if rest.strip():
        yield rest


def _parse_block(block: bytes, schema: pa.Schema) -> pa.Table:
    """Parse on this thread only: the load's other stages keep the other cores busy, and the
    reader's per-thread buffers cost about 80 MB at the store size for 0.1 s saved."""
    return pa_json.read_json(
        pa.BufferReader(block),
        read_options=pa_json.ReadOptions(use_threads=False),
        parse_options=pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
    )
