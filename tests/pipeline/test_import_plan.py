"""The import plan: which exports a retraining run imports, and refusal before any paid call."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import yaml

from personalize_pipeline.config import DEFAULT_PATH, parse_config
from personalize_pipeline.import_plan import ExportsNotReadyError, export_intervals, plan_imports
from personalize_pipeline.validation import DatasetValidationError

END = datetime(2026, 2, 1, tzinfo=UTC)


def _config(bucket: str, prefix: str, **changes):
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw["s3"] = {"bucket": bucket, "prefix": prefix}
    raw["start_date"] = "2025-11-01"
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            raw[section][name] = value
        else:
            raw[section] = value
    return parse_config(raw, DEFAULT_PATH)


def test_intervals_follow_the_export_schedule():
    monthly = export_intervals("@monthly", date(2025, 11, 1), END)
    assert [(s.month, e.month) for s, e in monthly] == [(11, 12), (12, 1), (1, 2)]
    weekly = export_intervals("@weekly", date(2025, 11, 1), END)
    assert all((e - s).days == 7 for s, e in weekly) and weekly[0][0] == datetime(2025, 11, 2, tzinfo=UTC)
    assert export_intervals("@monthly", date(2025, 11, 1), datetime(2025, 11, 30, tzinfo=UTC)) == []


@pytest.fixture
def s3(pipeline_env):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id="aws_default")


def _report(s3, cfg, slug: str, label: str, *, ok: bool = True, rows: int = 800, users: int = 30) -> None:
    uri = cfg.s3.uri("reports", slug, f"{label}.json")
    body = {"uri": uri, "ok": ok, "rows": rows, "stats": {"users_with_two_or_more": users}}
    s3.load_string(json.dumps(body), key=uri.split("/", 3)[3], bucket_name=cfg.s3.bucket, replace=True)


LABELS = ["2025-11-01T0000", "2025-12-01T0000", "2026-01-01T0000"]


def _all_exported(s3, cfg, **kw):
    for label in LABELS:
        _report(s3, cfg, "interactions", label, **kw)
    for slug in ("items", "users"):
        _report(s3, cfg, slug, LABELS[-1])


def test_full_plan_imports_the_folder_and_newest_snapshots(s3, pipeline_env):
    cfg = _config(pipeline_env["bucket"], "plan-full")
    _all_exported(s3, cfg)
    plan = plan_imports(cfg, s3=s3, import_mode="FULL", interval_end=END, already_imported=set())
    assert plan.interactions == [f"s3://{cfg.s3.bucket}/plan-full/datasets/interactions/"]
    assert plan.partitions == LABELS and plan.interactions_rows == 2400
    assert plan.snapshots == {
        "items": f"s3://{cfg.s3.bucket}/plan-full/datasets/items/2026-01-01T0000.csv",
        "users": f"s3://{cfg.s3.bucket}/plan-full/datasets/users/2026-01-01T0000.csv",
    }


def test_missing_and_failed_partitions_are_named(s3, pipeline_env):
    cfg = _config(pipeline_env["bucket"], "plan-missing")
    _report(s3, cfg, "interactions", LABELS[0])
    _report(s3, cfg, "interactions", LABELS[1], ok=False)
    with pytest.raises(ExportsNotReadyError) as caught:
        plan_imports(cfg, s3=s3, import_mode="FULL", interval_end=END, already_imported=set())
    message = str(caught.value)
    assert f"interactions partition {LABELS[1]}: failed validation" in message
    assert f"interactions partition {LABELS[2]}: not exported yet" in message
    assert f"items snapshot {LABELS[2]}: not exported yet" in message


def test_full_plan_checks_the_training_minimums(s3, pipeline_env):
    cfg = _config(pipeline_env["bucket"], "plan-small")
    _all_exported(s3, cfg, rows=300)
    with pytest.raises(DatasetValidationError, match="900 rows; Personalize needs at least 1000"):
        plan_imports(cfg, s3=s3, import_mode="FULL", interval_end=END, already_imported=set())


def test_incremental_plan_takes_only_partitions_not_yet_imported(s3, pipeline_env):
    cfg = _config(pipeline_env["bucket"], "plan-incremental", event_sync__enabled=False)
    _all_exported(s3, cfg)
    plan = plan_imports(
        cfg, s3=s3, import_mode="INCREMENTAL", interval_end=END, already_imported=set(LABELS[:2])
    )
    assert plan.partitions == [LABELS[2]]
    assert plan.interactions == [
        f"s3://{cfg.s3.bucket}/plan-incremental/datasets/interactions/{LABELS[2]}.csv"
    ]
    synced = _config(pipeline_env["bucket"], "plan-incremental")
    plan = plan_imports(synced, s3=s3, import_mode="INCREMENTAL", interval_end=END, already_imported=set())
    assert plan.interactions == [] and "event sync" in plan.notes[0]


def _interactions(users_per_partition: list[list[str]]) -> list[tuple[str, datetime]]:
    """(user, time) per interaction, each partition's at its interval's start."""
    starts = [
        datetime(2025, 11, 1, tzinfo=UTC),
        datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
    ]
    return [(user, start) for start, users in zip(starts, users_per_partition, strict=True) for user in users]


def _exported_with(s3, cfg, users_per_partition: list[list[str]]):
    """Reports whose per-partition counts match the interactions, and an exact counter over them."""
    from collections import Counter

    for label, users in zip(LABELS, users_per_partition, strict=True):
        per_user = Counter(users)
        _report(s3, cfg, "interactions", label, users=sum(1 for n in per_user.values() if n >= 2))
    for slug in ("items", "users"):
        _report(s3, cfg, slug, LABELS[-1])
    interactions = _interactions(users_per_partition)
    calls = []

    def count(start: datetime, end: datetime) -> int:
        calls.append((start, end))
        per_user = Counter(user for user, moment in interactions if start <= moment < end)
        return sum(1 for n in per_user.values() if n >= 2)

    return count, calls


ONCE_EACH = [[f"U{n}" for n in range(30)]] * 3  # 30 users, one interaction per partition
TWICE_IN_ONE = [[f"U{n}" for n in range(10)] * 2] * 3  # the same 10 users, twice in every partition


def test_users_with_two_are_counted_over_the_union_of_a_full_import(s3, pipeline_env):
    cfg = _config(pipeline_env["bucket"], "plan-union")
    count, calls = _exported_with(s3, cfg, ONCE_EACH)
    plan = plan_imports(
        cfg, s3=s3, import_mode="FULL", interval_end=END, already_imported=set(), count_users_with_two=count
    )
    assert plan.users_with_two == 30  # no partition has one such user; the union has 30
    assert calls == [(datetime(2025, 11, 1, tzinfo=UTC), END)]


def test_partitions_short_of_users_with_two_fail_when_the_union_is_short_too(s3, pipeline_env):
    cfg = _config(pipeline_env["bucket"], "plan-union-short")
    count, _ = _exported_with(s3, cfg, TWICE_IN_ONE)
    with pytest.raises(DatasetValidationError, match="10 users with 2\\+ interactions; training needs 25"):
        plan_imports(
            cfg,
            s3=s3,
            import_mode="FULL",
            interval_end=END,
            already_imported=set(),
            count_users_with_two=count,
        )


def test_an_incremental_import_counts_users_over_imported_and_new_partitions(s3, pipeline_env):
    cfg = _config(pipeline_env["bucket"], "plan-union-incr", event_sync__enabled=False)
    count, calls = _exported_with(s3, cfg, ONCE_EACH)
    plan = plan_imports(
        cfg,
        s3=s3,
        import_mode="INCREMENTAL",
        interval_end=END,
        already_imported=set(LABELS[:2]),
        count_users_with_two=count,
    )
    assert plan.partitions == [LABELS[2]] and plan.users_with_two == 30
    assert calls == [(datetime(2025, 11, 1, tzinfo=UTC), END)]
    short = _config(pipeline_env["bucket"], "plan-union-incr-short", event_sync__enabled=False)
    count, _ = _exported_with(s3, short, TWICE_IN_ONE)
    with pytest.raises(DatasetValidationError, match="10 users with 2\\+"):
        plan_imports(
            short,
            s3=s3,
            import_mode="INCREMENTAL",
            interval_end=END,
            already_imported=set(LABELS[:2]),
            count_users_with_two=count,
        )


def test_the_store_count_of_users_with_two_uses_the_interactions_export_query(pipeline_env):
    from collections import Counter

    import psycopg

    from devenv import datagen
    from personalize_pipeline.import_plan import users_with_two_in_store
    from personalize_pipeline.sql_files import read_sql

    url = pipeline_env["database_url"]
    datagen.load(url, datagen.generate("tiny"))
    cfg = _config(pipeline_env["bucket"], "plan-store")
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    with psycopg.connect(url) as conn:
        rows = conn.execute(read_sql("extract/interactions.sql"), {"start": start, "end": end}).fetchall()
    expected = sum(1 for n in Counter(row[0] for row in rows).values() if n >= 2)
    assert expected > 0
    assert users_with_two_in_store(cfg)(start, end) == expected
