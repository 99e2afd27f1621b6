"""
Check an exported Personalize CSV before anything is imported (imports and training cost money).

Reads the file in blocks with pyarrow, so memory stays flat in the row count (apart from
the set of IDs seen, needed to find duplicates and count users). Each problem names the
file, the CSV line and the column. Millisecond timestamps are rejected, not converted: they
mean the extraction query is wrong, and guessing would hide that.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

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
    path: str,
    uri: str,
    spec: DatasetSpec,
    *,
    allowed_event_types: set[str] | frozenset[str] | None = None,
    check_minimums: bool = True,
    block_size: int = 16 << 20,
) -> ValidationReport:
    """Validate the CSV at ``path`` (exported to ``uri``) against ``spec``; never raises for data.

    ``allowed_event_types`` defaults to the spec's. ``check_minimums`` is off for one partition of
    a larger dataset: the service's minimums apply to everything imported, checked before training.
    """
    if allowed_event_types is None:
        allowed_event_types = spec.event_types
    report = ValidationReport(uri=uri, dataset_type=spec.dataset_type)
    fields = {f["name"]: f for f in spec.schema["fields"]}
    try:
        # Every column is read as text: a bad value must become a named problem, not a parse crash.
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=block_size),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in fields},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as error:
        report.add("unreadable CSV", str(error))
        return report
    header = reader.schema.names
    missing = [name for name, f in fields.items() if name not in header and not _base_type(f["type"])[1]]
    if missing:
        report.add("missing columns", f"header has {header}, schema needs {missing}")
        return report
    unknown = [name for name in header if name not in fields]
    if unknown:
        report.add("columns not in the schema", ", ".join(unknown))

    id_column = "ITEM_ID" if spec.dataset_type == "ITEMS" else "USER_ID"
    seen_ids: set[str] = set()
    per_user: Counter[str] = Counter()
    event_types: Counter[str] = Counter()
    first_line = 2  # line 1 is the header
    try:
        for batch in reader:
            _check_block(report, batch, fields, first_line, spec, allowed_event_types, event_types)
            has_ids = id_column in batch.schema.names
            if spec.dataset_type == "INTERACTIONS" and has_ids:
                for entry in pc.value_counts(batch.column(id_column)).to_pylist():  # one entry per user
                    per_user[entry["values"]] += entry["counts"]
            elif has_ids:
                for offset, value in enumerate(batch.column(id_column).to_pylist()):
                    if value in seen_ids:
                        report.add(f"duplicate {id_column}", f"line {first_line + offset}: {value!r}")
                    seen_ids.add(value)
            report.rows += batch.num_rows
            first_line += batch.num_rows
    except pa.ArrowInvalid as error:
        report.add("unreadable CSV", f"after line {first_line - 1}: {error}")
        return report

    if spec.dataset_type == "INTERACTIONS":
        users_with_two = sum(1 for n in per_user.values() if n >= 2)
        report.stats.update(
            users=len(per_user), users_with_two_or_more=users_with_two, event_types=dict(event_types)
        )
        if check_minimums:
            report.add_minimum_problems(report.rows, users_with_two)
    else:
        report.stats["distinct_ids"] = len(seen_ids)
    return report


def _check_block(
    report: ValidationReport,
    batch: pa.RecordBatch,
    fields: dict[str, dict],
    first_line: int,
    spec: DatasetSpec,
    allowed_event_types: set[str] | None,
    event_types: Counter,
) -> None:
    for name in batch.schema.names:
        if name not in fields:
            continue
        column = batch.column(name)
        base, nullable = _base_type(fields[name]["type"])
        empty = pc.equal(pc.utf8_length(column), 0)
        if not nullable:
            _report_rows(report, f"empty {name}", empty, column, first_line)
        if name in ("USER_ID", "ITEM_ID"):
            _report_rows(
                report,
                f"{name} longer than {MAX_ID_CHARS} characters",
                pc.greater(pc.utf8_length(column), MAX_ID_CHARS),
                column,
                first_line,
            )
        elif base == "string" and fields[name].get("categorical"):
            _report_rows(
                report,
                f"{name} longer than {MAX_CATEGORICAL_CHARS} characters",
                pc.greater(pc.utf8_length(column), MAX_CATEGORICAL_CHARS),
                column,
                first_line,
            )
        if base in ("int", "long", "float", "double"):
            _check_numbers(report, name, base, column, empty, first_line)
        if name == "EVENT_TYPE":
            counts = pc.value_counts(column)
            for entry in counts.to_pylist():
                event_types[entry["values"]] += entry["counts"]
            if allowed_event_types is not None:
                unknown = pc.invert(pc.is_in(column, value_set=pa.array(sorted(allowed_event_types))))
                _report_rows(report, "unknown EVENT_TYPE", unknown, column, first_line)


def _check_numbers(
    report: ValidationReport, name: str, base: str, column: pa.Array, empty: pa.Array, first_line: int
) -> None:
    text = pc.if_else(empty, None, column)
    pattern = r"^-?\d+$" if base in ("int", "long") else r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
    bad = pc.and_(
        pc.invert(pc.fill_null(pc.match_substring_regex(text, pattern), True)), pc.invert(pc.is_null(text))
    )
    _report_rows(report, f"{name} is not a {base}", bad, column, first_line)
    if name in ("TIMESTAMP", "CREATION_TIMESTAMP"):
        numbers = pc.cast(pc.if_else(bad, None, text), pa.float64())
        _report_rows(
            report,
            f"{name} looks like milliseconds, not epoch seconds",
            pc.fill_null(pc.greater_equal(numbers, MAX_EPOCH_SECONDS), False),
            column,
            first_line,
        )
        _report_rows(
            report,
            f"{name} is negative",
            pc.fill_null(pc.less(numbers, MIN_EPOCH_SECONDS), False),
            column,
            first_line,
        )


def _report_rows(
    report: ValidationReport, kind: str, mask: pa.Array, column: pa.Array, first_line: int
) -> None:
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return
    positions = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    report.stats.setdefault("problem_rows", {}).setdefault(kind, 0)
    report.stats["problem_rows"][kind] += len(positions)
    for position in positions[:EXAMPLES_PER_PROBLEM]:
        value = column[int(position)].as_py()
        report.add(kind, f"line {first_line + int(position)}: {value!r:.80}")
