"""
What a retraining run imports, decided before any paid call.

The export DAG writes one interactions partition per data interval plus items and users
snapshots, each with a validation report. A FULL run imports the whole interactions folder and
the newest snapshots; an UPDATE run imports, INCREMENTAL, only the partitions no import has
brought in since the last FULL one (none when event sync already streams interactions). Either
way every partition the run relies on must exist and have passed validation, and the service's
training minimums are checked over what the dataset will hold after the import: the FULL run's
partitions, or those imported since the last FULL one plus the new ones.

Users with 2+ interactions do not add up over partitions (a user with one interaction in each
of two partitions counts in neither), so the reports' per-partition counts give only a lower
bound, their largest. When that bound is short of the minimum and several partitions are
involved, one query over the store counts the union exactly (:func:`users_with_two_in_store`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from personalize_pipeline.config import SCHEDULE_PRESETS, PipelineConfig
from personalize_pipeline.s3_paths import (
    dataset_file,
    dataset_folder,
    partition_label,
    report_file,
    split_s3_uri,
)
from personalize_pipeline.validation import (
    MIN_INTERACTIONS,
    MIN_USERS_WITH_TWO,
    DatasetValidationError,
    ValidationReport,
)

log = logging.getLogger(__name__)

CRON_OF_PRESET = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


class ExportsNotReadyError(RuntimeError):
    """A partition the run needs is missing or failed validation; nothing was imported.

    ``retryable`` is true when files are only missing (an export may still be running); a
    failed validation will not fix itself by waiting.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass
class ImportPlan:
    import_mode: str  # FULL or INCREMENTAL
    interactions: list[str]  # data locations: the folder (FULL) or new partition files (INCREMENTAL)
    partitions: list[str]  # partition labels those locations cover
    snapshots: dict[str, str] = field(default_factory=dict)  # items/users slug -> snapshot file
    interactions_rows: int = 0
    notes: list[str] = field(default_factory=list)
    users_with_two: int | None = None  # over the dataset after the import (None: not checked)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_intervals(schedule: str, start: date, end: datetime) -> list[tuple[datetime, datetime]]:
    """The export DAG's data intervals from ``start`` that have ended by ``end``."""
    from croniter import croniter

    if schedule not in CRON_OF_PRESET and (schedule in SCHEDULE_PRESETS or not croniter.is_valid(schedule)):
        raise ValueError(f"schedules.export {schedule!r} does not define data intervals")
    first = datetime(start.year, start.month, start.day, tzinfo=UTC)
    ticks = croniter(CRON_OF_PRESET.get(schedule, schedule), first - timedelta(seconds=1))
    intervals: list[tuple[datetime, datetime]] = []
    begin = ticks.get_next(datetime)
    while True:
        finish = ticks.get_next(datetime)
        if finish > end:
            return intervals
        intervals.append((begin, finish))
        begin = finish


def _read_report(s3, uri: str) -> dict[str, Any] | None:
    bucket, key = split_s3_uri(uri)
    if not s3.check_for_key(key, bucket_name=bucket):
        return None
    return json.loads(s3.read_key(key, bucket_name=bucket))


UsersWithTwoCounter = Callable[[datetime, datetime], int]


def users_with_two_in_store(cfg: PipelineConfig) -> UsersWithTwoCounter:
    """Counts users with 2+ interactions in [start, end) with the interactions export's query."""

    def count(start: datetime, end: datetime) -> int:
        from psycopg import sql

        from personalize_pipeline.db import connect
        from personalize_pipeline.sql_files import compose, read_sql

        query_file = next(s for s in cfg.dataset_specs() if s.slug == "interactions").query_file
        statement = compose("imports/users_with_two.sql", query=sql.SQL(read_sql(query_file)))
        with connect(cfg.connections.source_db, autocommit=True) as conn:
            return conn.execute(statement, {"start": start, "end": end}).fetchone()[0]

    return count


def plan_imports(
    cfg: PipelineConfig,
    *,
    s3,
    import_mode: str,
    interval_end: datetime,
    already_imported: set[str],
    count_users_with_two: UsersWithTwoCounter | None = None,
) -> ImportPlan:
    """
    The imports of one retraining run; raises before any paid call if an export is not ready.

    ``count_users_with_two`` counts exactly over a time range when the reports cannot tell
    (default: :func:`users_with_two_in_store`).
    """
    intervals = export_intervals(cfg.schedules.export or "@monthly", cfg.start_date, interval_end)
    if not intervals:
        raise ExportsNotReadyError(
            f"no export interval from start_date {cfg.start_date} has ended by {interval_end:%Y-%m-%d %H:%M}"
        )
    labels = [partition_label(start) for start, _ in intervals][-cfg.retention.export_partitions :]
    if import_mode == "INCREMENTAL":
        wanted = (
            [] if cfg.event_sync.enabled else [label for label in labels if label not in already_imported]
        )
    else:
        wanted = labels

    problems, rows, users_with_two = [], 0, 0
    for label in wanted:
        report = _read_report(s3, report_file(cfg.s3, "interactions", label))
        if report is None:
            problems.append(f"interactions partition {label}: not exported yet (no validation report)")
        elif not report["ok"]:
            problems.append(f"interactions partition {label}: failed validation, see {report['uri']}")
        else:
            rows += report["rows"]
            # Counted per partition, so the largest is a lower bound on the whole dataset's count.
            users_with_two = max(users_with_two, report["stats"].get("users_with_two_or_more", 0))
    # An INCREMENTAL import adds to what the dataset holds since its last FULL import.
    held = sorted(already_imported - set(wanted)) if import_mode == "INCREMENTAL" and wanted else []
    unknown = []
    for label in held:
        report = _read_report(s3, report_file(cfg.s3, "interactions", label))
        if report is None or not report["ok"]:
            unknown.append(label)  # its report is gone (cleanup): the dataset's size is unknown
        else:
            rows += report["rows"]
            users_with_two = max(users_with_two, report["stats"].get("users_with_two_or_more", 0))

    plan = ImportPlan(
        import_mode=import_mode,
        interactions=[],
        partitions=wanted,
        interactions_rows=rows,
    )
    last_label = partition_label(intervals[-1][0])
    for slug in ("items", "users"):
        if getattr(cfg.datasets, slug) is None:
            continue
        report = _read_report(s3, report_file(cfg.s3, slug, last_label))
        if report is None:
            problems.append(f"{slug} snapshot {last_label}: not exported yet (no validation report)")
        elif not report["ok"]:
            problems.append(f"{slug} snapshot {last_label}: failed validation, see {report['uri']}")
        else:
            plan.snapshots[slug] = dataset_file(cfg.s3, slug, last_label)
    if problems:
        raise ExportsNotReadyError(
            "retraining needs exports that are not ready; nothing was imported:\n  - "
            + "\n  - ".join(problems)
            + "\nRun (or backfill) the export DAG for these intervals first.",
            retryable=not any("failed validation" in p for p in problems),
        )

    if unknown:
        plan.notes.append(f"minimums not checked: no report for imported partitions {unknown}")
    elif wanted:
        dataset = set(wanted) | set(held)
        if users_with_two < MIN_USERS_WITH_TWO and len(dataset) > 1:
            # A user active in several partitions may reach 2 only in the union: count it.
            spans = [(start, end) for start, end in intervals if partition_label(start) in dataset]
            counter = count_users_with_two or users_with_two_in_store(cfg)
            users_with_two = counter(min(s for s, _ in spans), max(e for _, e in spans))
            plan.notes.append(f"users with 2+ interactions: {users_with_two} over {len(dataset)} partitions")
        plan.users_with_two = users_with_two
        _check_minimums(cfg, rows, users_with_two)
    if import_mode == "FULL":
        plan.interactions = [dataset_folder(cfg.s3, "interactions")]
    else:
        plan.interactions = [dataset_file(cfg.s3, "interactions", label) for label in wanted]
        if cfg.event_sync.enabled:
            plan.notes.append("interactions arrive through event sync; no partition is imported")
    log.info(
        "Import plan (%s): %d interactions location(s) covering %d partition(s), %d rows; snapshots %s",
        import_mode,
        len(plan.interactions),
        len(plan.partitions),
        rows,
        plan.snapshots,
    )
    return plan


def _check_minimums(cfg: PipelineConfig, rows: int, users_with_two: int) -> None:
    check = ValidationReport(uri=dataset_folder(cfg.s3, "interactions"), dataset_type="INTERACTIONS")
    check.add_minimum_problems(rows, users_with_two)
    if not check.ok:
        raise DatasetValidationError(
            f"{check.uri}: the partitions to import fail the service's minimums "
            f"({MIN_INTERACTIONS} interactions, {MIN_USERS_WITH_TWO} users with 2+): "
            + "; ".join(e for examples in check.problems.values() for e in examples)
        )


def already_imported(*, db_conn_id: str, schema: str, dataset_group: str, dataset: str) -> set[str]:
    """Partition labels in the dataset since (and including) its newest FULL import."""
    from personalize_pipeline.db import connect, run_setup
    from personalize_pipeline.sql_files import compose

    with connect(db_conn_id, autocommit=True) as conn:
        run_setup(conn, "imports/setup.sql", schema=schema)
        rows = conn.execute(
            compose("imports/imported_since_full.sql", schema=schema),
            {"dataset_group": dataset_group, "dataset": dataset},
        ).fetchall()
    return {label for (label,) in rows}


def record_imports(
    *,
    db_conn_id: str,
    schema: str,
    dataset_group: str,
    plan: dict[str, Any],
    import_job_arns: list[str],
    dag_id: str,
    run_id: str,
) -> int:
    """Remember which partitions this run's interactions imports covered (one transaction)."""
    from personalize_pipeline.db import connect, run_setup
    from personalize_pipeline.sql_files import compose

    if plan["import_mode"] == "FULL":
        pairs = [(label, import_job_arns[0]) for label in plan["partitions"]] if import_job_arns else []
    else:
        pairs = list(zip(plan["partitions"], import_job_arns, strict=True))
    with connect(db_conn_id) as conn:
        run_setup(conn, "imports/setup.sql", schema=schema)
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                compose("imports/record.sql", schema=schema),
                [
                    {
                        "dataset_group": dataset_group,
                        "dataset": "interactions",
                        "partition_label": label,
                        "import_mode": plan["import_mode"],
                        "import_job_arn": arn,
                        "dag_id": dag_id,
                        "run_id": run_id,
                    }
                    for label, arn in pairs
                ],
            )
    return len(pairs)
