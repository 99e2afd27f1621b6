"""
Monitors of data and caches (``monitoring:`` in the pipeline's file): one SNS message per problem.

* Before a paid import: the newest interactions partition against the trailing ones (interactions,
  distinct users and items beyond ``volume_factor`` either way) and its share of items missing
  from the items snapshot; the retraining run stops unless the ``override_monitors`` param is set.
* After a cache load: the share of active customers and of the catalogue the cache covers, against
  the previous load's; a drop beyond ``coverage_factor`` alerts, the run goes on.
* Freshness: a live cache older than its retraining schedule's interval times ``freshness_grace``.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from personalize_pipeline.config import MonitoringConfig, PipelineConfig
from personalize_pipeline.notifications import subject_line, topic_region

log = logging.getLogger(__name__)

MEASURES = ("interactions", "users", "items")


@dataclass(frozen=True)
class Problem:
    monitor: str  # volume, unknown_items, coverage, freshness
    subject: str
    message: str


def alert(cfg: PipelineConfig, problems: list[Problem]) -> int:
    """Log each problem and publish it to the pipeline's SNS topic (when one is set); how many went."""
    for problem in problems:
        log.warning("%s: %s", problem.subject, problem.message)
    topic = cfg.notifications.sns_topic_arn
    if not problems or topic is None:
        return 0
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    hook = SnsHook(aws_conn_id=cfg.connections.aws, region_name=topic_region(topic))
    for problem in problems:
        hook.publish_to_target(
            target_arn=topic,
            message=problem.message,
            subject=subject_line(f"Personalize {cfg.name}: {problem.subject}"),
            message_attributes={"event": "monitor", "monitor": problem.monitor, "pipeline": cfg.name},
        )
    return len(problems)


# --- before an import: the interval's volume against the trailing intervals ------------------------


@dataclass(frozen=True)
class IntervalStats:
    label: str
    interactions: int
    users: int
    items: int
    unknown_items_share: float | None = None  # interactions on items not in the items snapshot


def interval_stats(csv: bytes, label: str, known_items: set[str] | None = None) -> IntervalStats:
    """Counts of one interactions partition (its CSV's USER_ID and ITEM_ID columns only)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv

    columns = ["USER_ID", "ITEM_ID"]
    table = pa_csv.read_csv(
        io.BytesIO(csv),
        convert_options=pa_csv.ConvertOptions(
            include_columns=columns, column_types=dict.fromkeys(columns, pa.string())
        ),
    )
    items = table.column("ITEM_ID")
    unknown = None
    if known_items is not None and table.num_rows:
        known = pc.is_in(items, value_set=pa.array(sorted(known_items), pa.string()))
        unknown = 1 - pc.sum(known.cast(pa.int64())).as_py() / table.num_rows
    return IntervalStats(
        label=label,
        interactions=table.num_rows,
        users=pc.count_distinct(table.column("USER_ID")).as_py(),
        items=pc.count_distinct(items).as_py(),
        unknown_items_share=unknown,
    )


def volume_problems(
    current: IntervalStats, trailing: list[IntervalStats], rules: MonitoringConfig
) -> list[Problem]:
    """Each measure beyond ``volume_factor`` of its trailing mean, and too many unknown items."""
    problems = []
    for measure in MEASURES if trailing else ():
        value = getattr(current, measure)
        mean = sum(getattr(s, measure) for s in trailing) / len(trailing)
        ratio = value / mean if mean else None
        if ratio is not None and (ratio > rules.volume_factor or ratio < 1 / rules.volume_factor):
            problems.append(
                Problem(
                    "volume",
                    f"{measure} of {current.label} changed {ratio:.2f}x",
                    f"Interactions partition {current.label}: {value:,} {measure}, {ratio:.2f}x the mean "
                    f"{mean:,.0f} of the {len(trailing)} interval(s) before it "
                    f"({', '.join(s.label for s in trailing)}); allowed factor {rules.volume_factor:g}.",
                )
            )
    share = current.unknown_items_share
    if share is not None and share > rules.unknown_items_max_share:
        problems.append(
            Problem(
                "unknown_items",
                f"unknown items in {current.label}: {share:.1%}",
                f"Interactions partition {current.label}: {share:.1%} of {current.interactions:,} "
                f"interactions are on items missing from the items snapshot; allowed "
                f"{rules.unknown_items_max_share:.1%}.",
            )
        )
    return problems


def _read(s3, uri: str) -> bytes | None:
    from personalize_pipeline.s3_paths import split_s3_uri

    bucket, key = split_s3_uri(uri)
    if not s3.check_for_key(key, bucket_name=bucket):
        return None
    return s3.get_key(key, bucket_name=bucket).get()["Body"].read()


def check_volume(cfg: PipelineConfig, s3, plan: dict) -> list[Problem]:
    """The newest partition this run imports against the trailing exported ones."""
    from personalize_pipeline.s3_paths import dataset_file, dataset_folder, split_s3_uri

    labels = sorted(plan["partitions"])
    if not labels:
        return []
    bucket, prefix = split_s3_uri(dataset_folder(cfg.s3, "interactions"))
    listed = s3.list_keys(bucket_name=bucket, prefix=prefix) or []
    exported = sorted(key.rsplit("/", 1)[1][:-4] for key in listed if key.endswith(".csv"))
    current = labels[-1]
    before = [label for label in exported if label < current][-cfg.monitoring.trailing_intervals :]
    snapshot = plan["snapshots"].get("items")
    items_csv = _read(s3, snapshot) if snapshot else None
    known = None
    if items_csv is not None:
        import pyarrow.csv as pa_csv

        ids = pa_csv.read_csv(
            io.BytesIO(items_csv), convert_options=pa_csv.ConvertOptions(include_columns=["ITEM_ID"])
        )
        known = {str(value) for value in ids.column("ITEM_ID").to_pylist()}
    stats = [
        interval_stats(body, label, known if label == current else None)
        for label in [*before, current]
        if (body := _read(s3, dataset_file(cfg.s3, "interactions", label))) is not None
    ]
    if not stats or stats[-1].label != current:
        return []
    log.info("Volume of %s against %s", stats[-1], stats[:-1])
    return volume_problems(stats[-1], stats[:-1], cfg.monitoring)


# --- after a load: coverage against the previous load -----------------------------------------------


def _share(part: int | None, whole: int | None) -> float | None:
    return part / whole if part is not None and whole else None


def coverage_problems(
    cache: str, current: dict, previous: dict | None, rules: MonitoringConfig
) -> list[Problem]:
    """A coverage share that fell below the previous load's divided by ``coverage_factor``."""
    if previous is None:
        return []
    problems = []
    for what, part, whole in (
        ("active customers", "covered_customers", "active_customers"),
        ("catalogue", "covered_items", "catalogue"),
    ):
        now, before = _share(current[part], current[whole]), _share(previous[part], previous[whole])
        if now is None or before is None or now * rules.coverage_factor >= before:
            continue
        problems.append(
            Problem(
                "coverage",
                f"{cache} covers {now:.1%} of {what} (was {before:.1%})",
                f"Cache {cache}, load {current['load_id']}: {current[part]:,} of {current[whole]:,} "
                f"{what} ({now:.1%}); the previous load {previous['load_id']} covered {previous[part]:,} "
                f"of {previous[whole]:,} ({before:.1%}). Alert below 1/{rules.coverage_factor:g} of it.",
            )
        )
    return problems


def check_coverage(
    cfg: PipelineConfig, *, cache: str, load: dict, per_user: bool, item_column: str, end: datetime
) -> list[Problem]:
    """Measure the load's coverage, keep it, compare it with the cache's previous load."""
    from personalize_pipeline.db import connect, run_setup
    from personalize_pipeline.sql_files import compose

    schema = cfg.cache_schema
    current: dict = {"load_id": load["load_id"], "cache_name": cache}
    with connect(cfg.connections.cache_db) as conn:
        # Outside the measuring transaction: inside it, two caches' checks deadlocked.
        run_setup(conn, "monitoring/setup.sql", schema=schema)
        with conn.transaction():
            active = (None, None)
            if per_user:
                window = {"start": end - timedelta(days=cfg.monitoring.active_days), "end": end}
                snapshot = (schema, load["snapshot_table"])
                sql = compose("monitoring/active_customers.sql", snapshot=snapshot, key="user_id")
                active = conn.execute(sql, window).fetchone()
            current["active_customers"], current["covered_customers"] = active
            sql = compose("monitoring/catalogue.sql", view=(schema, cache), item=item_column)
            current["catalogue"], current["covered_items"] = conn.execute(sql).fetchone()
            cursor = conn.execute(compose("monitoring/record_coverage.sql", schema=schema), current)
            row = cursor.fetchone()
            previous = dict(zip([c.name for c in cursor.description], row, strict=True)) if row else None
    log.info("Coverage of %s: %s (previous load: %s)", cache, current, previous)
    return coverage_problems(cache, current, previous, cfg.monitoring)


# --- freshness ----------------------------------------------------------------------------------------


def schedule_interval(schedule: str | None, now: datetime) -> timedelta | None:
    """The time between two runs of a cron or preset schedule (None: no schedule)."""
    from croniter import croniter

    from personalize_pipeline.import_plan import CRON_OF_PRESET

    cron = CRON_OF_PRESET.get(schedule or "", schedule)
    if not cron or not croniter.is_valid(cron):
        return None
    ticks = croniter(cron, now)
    first = ticks.get_next(datetime)
    return ticks.get_next(datetime) - first


def freshness_problems(cfg: PipelineConfig, caches: list[dict], now: datetime) -> list[Problem]:
    """Live caches older than the most frequent retraining schedule allows (times the grace)."""
    intervals = [
        i
        for s in (cfg.schedules.full_retrain, cfg.schedules.update_retrain)
        if (i := schedule_interval(s, now)) is not None
    ]
    if not intervals:
        return []
    every = min(intervals)
    limit = every * cfg.monitoring.freshness_grace
    problems = []
    for cache in (c for c in caches if c["cache_name"] in cfg.cache_tables):
        age = now - cache["finished_at"]
        if age > limit:
            name, days = cache["cache_name"], age / timedelta(days=1)
            problems.append(
                Problem(
                    "freshness",
                    f"{name} is {days:.1f} days old",
                    f"Cache {name}: live load {cache['load_id']} finished "
                    f"{cache['finished_at']:%Y-%m-%d %H:%M} UTC, {days:.1f} days ago; retraining runs every "
                    f"{every / timedelta(days=1):g} days, so it may be at most "
                    f"{limit / timedelta(days=1):.1f} days old (grace {cfg.monitoring.freshness_grace:g}).",
                )
            )
    return problems
