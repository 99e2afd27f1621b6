"""
Check an exported Personalize CSV before anything is imported (imports and training cost money).

Reads the CSV (a file, or a stream fed while the export runs) in blocks with pyarrow and checks
each block with vectorised kernels, so memory does not grow with the row count. What is kept
across blocks is one entry per distinct ID: the IDs seen, to find duplicate items or users, and
the interactions per user, to count users with two or more. That is O(distinct IDs), inherent in
an exact count, and bounded by the catalogue and customer base, not by how many rows an interval
holds. Each problem names the file, the CSV line and the column. Millisecond timestamps are
rejected, not converted: they mean the extraction query is wrong, and guessing would hide that.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from personalize_pipeline.datasets import DatasetSpec

MAX_ID_CHARS = 256
MAX_CATEGORICAL_CHARS = 1000
MIN_INTERACTIONS = 1000
MIN_USERS_WITH_TWO = 25
# 1e11 seconds is the year 5138; a larger "epoch" is almost surely milliseconds.
MAX_EPOCH_SECONDS = 10**11
MIN_EPOCH_SECONDS = 0
EXAMPLES_PER_PROBLEM = 5


class DatasetValidationError(ValueError):
    """The CSV would fail the import or training; nothing has been sent to Personalize."""


@dataclass
class ValidationReport:
    uri: str
    dataset_type: str
    rows: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, example: str) -> None:
        examples = self.problems.setdefault(kind, [])
        if len(examples) < EXAMPLES_PER_PROBLEM:
            examples.append(example)

    def as_dict(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "dataset_type": self.dataset_type,
            "rows": self.rows,
            "ok": self.ok,
            "problems": self.problems,
            "stats": self.stats,
        }

    def add_minimum_problems(self, interactions: int, users_with_two: int) -> None:
        """The service's minimums for training, checked before any paid call."""
        if interactions < MIN_INTERACTIONS:
            self.add(
                "too few interactions", f"{interactions} rows; Personalize needs at least {MIN_INTERACTIONS}"
            )
        if users_with_two < MIN_USERS_WITH_TWO:
            self.add(
                "too few active users",
                f"{users_with_two} users with 2+ interactions; training needs {MIN_USERS_WITH_TWO}",
            )

    def raise_if_failed(self) -> None:
        if self.ok:
            return
        lines = [f"{self.uri} ({self.dataset_type}) failed validation; nothing was imported:"]
        for kind, examples in self.problems.items():
            lines.append(f"  - {kind}: " + "; ".join(examples))
        raise DatasetValidationError("\n".join(lines))


def _base_type(avro_type: Any) -> tuple[str, bool]:
    """The Avro base type of a field, and whether the schema allows nulls (a union with "null")."""
    if isinstance(avro_type, list):
        return next(t for t in avro_type if t != "null"), "null" in avro_type
    return avro_type, False


def validate_csv(
    source: str | os.PathLike | IO[bytes],
    uri: str,
    spec: DatasetSpec,
    *,
    allowed_event_types: set[str] | frozenset[str] | None = None,
    check_minimums: bool = True,
    block_size: int = 8 << 20,
) -> ValidationReport:
    """Validate the CSV at ``source`` (a path or a binary stream, exported to ``uri``); never raises for data.

    ``allowed_event_types`` defaults to the spec's. ``check_minimums`` is off for one partition of
    a larger dataset: the service's minimums apply to everything imported, checked before training.
    ``block_size`` is how many bytes are read and parsed at once: it sets the memory used.
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            return validate_csv(
                handle,
                uri,
                spec,
                allowed_event_types=allowed_event_types,
                check_minimums=check_minimums,
                block_size=block_size,
            )
    if allowed_event_types is None:
        allowed_event_types = spec.event_types
    report = ValidationReport(uri=uri, dataset_type=spec.dataset_type)
    fields = {f["name"]: f for f in spec.schema["fields"]}
    # Every column is read as text: a bad value must become a named problem, not a parse crash.
    convert = pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in fields},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    id_column = "ITEM_ID" if spec.dataset_type == "ITEMS" else "USER_ID"
    interactions = spec.dataset_type == "INTERACTIONS"
    ids = _IdCounts() if interactions else _DuplicateIds()
    event_types: Counter[str] = Counter()
    header: list[str] | None = None
    first_line = 2  # line 1 is the header
    try:
        for piece in _whole_records(source, block_size):
            # Each piece is parsed on its own: pyarrow's streaming reader would read up to 32 blocks
            # ahead of the checks, so its memory would follow the export's speed, not a bound.
            options = pa_csv.ReadOptions(
                column_names=header, block_size=max(len(piece), 1 << 20), use_threads=False
            )
            table = pa_csv.read_csv(pa.py_buffer(piece), read_options=options, convert_options=convert)
            if header is None:
                header = table.column_names
                missing = [n for n, f in fields.items() if n not in header and not _base_type(f["type"])[1]]
                if missing:
                    report.add("missing columns", f"header has {header}, schema needs {missing}")
                    return report
                unknown = [name for name in header if name not in fields]
                if unknown:
                    report.add("columns not in the schema", ", ".join(unknown))
            for batch in table.combine_chunks().to_batches():
                _check_block(report, batch, fields, first_line, spec, allowed_event_types, event_types)
                if id_column in batch.schema.names:
                    ids.add(report, batch.column(id_column), first_line, id_column)
                report.rows += batch.num_rows
                first_line += batch.num_rows
    except pa.ArrowInvalid as error:
        where = "" if header is None else f"after line {first_line - 1}: "
        report.add("unreadable CSV", f"{where}{error}")
        return report

    if interactions:
        users, users_with_two = ids.totals()
        report.stats.update(users=users, users_with_two_or_more=users_with_two, event_types=dict(event_types))
        if check_minimums:
            report.add_minimum_problems(report.rows, users_with_two)
    else:
        report.stats["distinct_ids"] = ids.distinct
    return report


def _whole_records(stream: IO[bytes], block_size: int) -> Iterator[memoryview]:
    """Read ``stream`` in blocks and yield them cut after the last complete CSV record.

    A record ends at a newline outside quotes; quotes inside a quoted field are doubled, so a
    newline is outside quotes when the quotes before it (since the last cut) are even in number.
    The partial record is carried into the next piece. Only C-level byte searches run per block.
    """
    read = getattr(stream, "read_buffer", stream.read)  # a view of the block if the stream offers one
    carry = b""
    while block := read(block_size):
        data = carry + block  # one copy, into bytes, which can be searched
        end = data.rfind(b"\n")
        quotes = data.count(b'"', 0, end) if end >= 0 else 0
        while end >= 0 and quotes % 2:  # that newline is inside a quoted field: look further back
            previous = data.rfind(b"\n", 0, end)
            quotes -= data.count(b'"', max(previous, 0), end)
            end = previous
        if end < 0:
            carry = data
            continue
        yield memoryview(data)[: end + 1]  # no copy: pyarrow parses the view
        carry = bytes(data[end + 1 :])
    if carry:
        yield carry


class _IdCounts:
    """Rows per ID across blocks: the distinct IDs as one pyarrow array, their counts in numpy.

    Blocks' counts wait in a list and are merged (dictionary-encode, then ``bincount``) once they
    outnumber the merged IDs, so the hashing per row stays constant however many blocks come. No
    Python object exists per ID, and no grouped aggregation runs (its per-thread buffers added
    tens of MB at 2M rows).
    """

    def __init__(self) -> None:
        self._ids = pa.array([], pa.string())
        self._counts = np.zeros(0, dtype=np.int64)
        self._pending: list[pa.StructArray] = []
        self._pending_rows = 0

    def add(self, report: ValidationReport, column: pa.Array, first_line: int, name: str) -> None:
        block = pc.value_counts(column)
        self._pending.append(block)
        self._pending_rows += len(block)
        if self._pending_rows > max(len(self._ids), 1 << 16):
            self._merge()

    def _merge(self) -> None:
        if not self._pending:
            return
        ids = pa.chunked_array([self._ids, *(block.field("values") for block in self._pending)])
        counts = np.concatenate(
            [self._counts, *(block.field("counts").to_numpy() for block in self._pending)]
        )
        encoded = pc.dictionary_encode(ids).combine_chunks()
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        self._ids = encoded.dictionary
        self._counts = np.bincount(codes, weights=counts, minlength=len(self._ids)).astype(np.int64)
        self._pending, self._pending_rows = [], 0

    def totals(self) -> tuple[int, int]:
        """Distinct IDs, and IDs with two or more rows."""
        self._merge()
        return len(self._counts), int(np.count_nonzero(self._counts >= 2))


class _DuplicateIds:
    """Reports each row whose ID appeared on an earlier row, keeping the distinct IDs seen so far."""

    def __init__(self) -> None:
        self._seen = pa.array([], pa.string())

    @property
    def distinct(self) -> int:
        return len(self._seen)

    def add(self, report: ValidationReport, column: pa.Array, first_line: int, name: str) -> None:
        codes = pc.dictionary_encode(column).indices.to_numpy(zero_copy_only=False)
        # Dictionary codes follow first appearance, so a row repeats an earlier one in this block
        # unless its code is the first occurrence of that code.
        repeated = np.ones(len(codes), dtype=bool)
        repeated[np.unique(codes, return_index=True)[1]] = False
        earlier = pc.is_in(column, value_set=self._seen).to_numpy(zero_copy_only=False)
        _report_positions(report, f"duplicate {name}", np.flatnonzero(repeated | earlier), column, first_line)
        new = pc.unique(column)
        new = new.filter(pc.invert(pc.is_in(new, value_set=self._seen)))
        self._seen = pa.concat_arrays([self._seen, new])


def _check_block(
    report: ValidationReport,
    batch: pa.RecordBatch,
    fields: dict[str, dict],
    first_line: int,
    spec: DatasetSpec,
    allowed_event_types: set[str] | None,
    event_types: Counter,
) -> None:
    """Check one block. Each check first screens the whole column with one cheap kernel (a byte
    length min/max, a cast) and builds per-row masks only when the screen finds something, so a
    clean block costs a few passes over its buffers."""
    for name in batch.schema.names:
        if name not in fields:
            continue
        column = batch.column(name)
        base, nullable = _base_type(fields[name]["type"])
        byte_lengths = pc.binary_length(column)
        shortest, longest = _min_max(byte_lengths)
        empty = pc.equal(byte_lengths, 0) if shortest == 0 else None  # None: no empty value here
        if not nullable and empty is not None:
            _report_rows(report, f"empty {name}", empty, column, first_line)
        limit = (
            MAX_ID_CHARS
            if name in ("USER_ID", "ITEM_ID")
            else MAX_CATEGORICAL_CHARS
            if base == "string" and fields[name].get("categorical")
            else None
        )
        if limit is not None and longest > limit:  # a character is one or more bytes
            too_long = pc.greater(pc.utf8_length(column), limit)
            _report_rows(report, f"{name} longer than {limit} characters", too_long, column, first_line)
        if base in ("int", "long", "float", "double"):
            _check_numbers(report, name, base, column, empty, first_line)
        if name == "EVENT_TYPE":
            _count_event_types(report, column, first_line, allowed_event_types, event_types)


def _min_max(values: pa.Array) -> tuple[Any, Any]:
    bounds = pc.min_max(values)
    return bounds["min"].as_py(), bounds["max"].as_py()


def _count_event_types(
    report: ValidationReport,
    column: pa.Array,
    first_line: int,
    allowed_event_types: set[str] | None,
    event_types: Counter,
) -> None:
    """Tally event types (a handful of distinct values) and name rows with unknown ones."""
    encoded = pc.dictionary_encode(column)
    names = encoded.dictionary.to_pylist()
    counts = np.bincount(encoded.indices.to_numpy(zero_copy_only=False), minlength=len(names))
    event_types.update(dict(zip(names, counts.tolist(), strict=True)))
    if allowed_event_types is not None:
        unknown = [code for code, value in enumerate(names) if value not in allowed_event_types]
        if unknown:
            mask = pc.is_in(encoded.indices, value_set=pa.array(unknown, encoded.indices.type))
            _report_rows(report, "unknown EVENT_TYPE", mask, column, first_line)


def _check_numbers(
    report: ValidationReport,
    name: str,
    base: str,
    column: pa.Array,
    empty: pa.Array | None,
    first_line: int,
) -> None:
    text = column if empty is None else pc.if_else(empty, None, column)  # empty means no value
    integral = base in ("int", "long")
    try:  # the screen: one cast of the whole column; only a block with a bad value takes the regex
        numbers = pc.cast(text, pa.int64() if integral else pa.float64())
        screened = integral or pc.all(pc.fill_null(pc.is_finite(numbers), True)).as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        screened = False
    if not screened:
        pattern = r"^-?\d+$" if integral else r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
        matches = pc.fill_null(pc.match_substring_regex(text, pattern), True)
        bad = pc.and_(pc.invert(matches), pc.is_valid(text))
        _report_rows(report, f"{name} is not a {base}", bad, column, first_line)
        numbers = pc.cast(pc.if_else(bad, None, text), pa.float64())
    if name not in ("TIMESTAMP", "CREATION_TIMESTAMP") or numbers.null_count == len(numbers):
        return
    lowest, highest = _min_max(numbers)
    if highest >= MAX_EPOCH_SECONDS:
        _report_rows(
            report,
            f"{name} looks like milliseconds, not epoch seconds",
            pc.greater_equal(numbers, MAX_EPOCH_SECONDS),
            column,
            first_line,
        )
    if lowest < MIN_EPOCH_SECONDS:
        _report_rows(report, f"{name} is negative", pc.less(numbers, MIN_EPOCH_SECONDS), column, first_line)


def _report_rows(
    report: ValidationReport, kind: str, mask: pa.Array, column: pa.Array, first_line: int
) -> None:
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return
    _report_positions(report, kind, np.flatnonzero(mask.to_numpy(zero_copy_only=False)), column, first_line)


def _report_positions(
    report: ValidationReport, kind: str, positions: np.ndarray, column: pa.Array, first_line: int
) -> None:
    """Count the rows at ``positions`` (within a block) and quote the first few with their lines."""
    if not len(positions):
        return
    report.stats.setdefault("problem_rows", {}).setdefault(kind, 0)
    report.stats["problem_rows"][kind] += len(positions)
    for position in positions[:EXAMPLES_PER_PROBLEM]:
        value = column[int(position)].as_py()
        report.add(kind, f"line {first_line + int(position)}: {value!r:.80}")
