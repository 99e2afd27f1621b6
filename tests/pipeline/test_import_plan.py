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
