"""Exported CSVs are checked before any import: each bad input is named by file, line and column."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from personalize_pipeline.config import load_config
from personalize_pipeline.validation import DatasetValidationError, validate_csv

INTERACTIONS, ITEMS, USERS = load_config().dataset_specs()

URI = "s3://bucket/run/interactions.csv"


def _interactions(rows: int = 1200, users: int = 60) -> list[str]:
    return [
        f"U{i % users},I{i % 97},{'view' if i % 3 else 'purchase'},{1_700_000_000 + i}" for i in range(rows)
    ]


def _write(tmp_path, lines: list[str], header: str = "USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP") -> str:
    path = tmp_path / "data.csv"
    path.write_text("\n".join([header, *lines]) + "\n")
    return str(path)


def _problems(tmp_path, lines, header="USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP", spec=INTERACTIONS, **kw):
    report = validate_csv(_write(tmp_path, lines, header), URI, spec, block_size=4096, **kw)
    return report


def test_good_interactions_pass_with_stats(tmp_path):
    report = _problems(tmp_path, _interactions())
    assert report.ok, report.problems
    assert report.rows == 1200
    assert report.stats["users_with_two_or_more"] == 60
    assert report.stats["event_types"] == {"view": 800, "purchase": 400}
    report.raise_if_failed()


@pytest.mark.parametrize(
    ("mutate", "kind", "needle"),
    [
        (lambda r: r.__setitem__(500, "U1,I1,view,1700000000123"), "looks like milliseconds", "line 502"),
        (lambda r: r.__setitem__(10, f"{'u' * 257},I1,view,1700000000"), "longer than 256", "line 12"),
        (lambda r: r.__setitem__(3, ",I1,view,1700000000"), "empty USER_ID", "line 5"),
        (lambda r: r.__setitem__(900, "U1,I1,view,yesterday"), "TIMESTAMP is not a long", "'yesterday'"),
        (lambda r: r.__setitem__(7, "U1,I1,view,-5"), "TIMESTAMP is negative", "line 9"),
    ],
)
def test_each_bad_row_is_reported_with_its_line(tmp_path, mutate, kind, needle):
    rows = _interactions()
    mutate(rows)
    report = _problems(tmp_path, rows)
    assert not report.ok
    found = [k for k in report.problems if kind in k]
    assert found, report.problems
    assert any(needle in example for example in report.problems[found[0]])
    with pytest.raises(DatasetValidationError, match=URI):
        report.raise_if_failed()


def test_missing_column_is_named(tmp_path):
    rows = [r.rsplit(",", 1)[0] for r in _interactions()]
    report = _problems(tmp_path, rows, header="USER_ID,ITEM_ID,EVENT_TYPE")
    assert "TIMESTAMP" in report.problems["missing columns"][0]


def test_unknown_event_types_when_the_configuration_lists_them(tmp_path):
    rows = _interactions()
    rows[42] = "U1,I1,wishlist,1700000000"
    report = _problems(tmp_path, rows, allowed_event_types={"view", "purchase"})
    assert report.problems["unknown EVENT_TYPE"] == ["line 44: 'wishlist'"]


def test_service_minimums_are_reported(tmp_path):
    report = _problems(tmp_path, _interactions(rows=999, users=20))
    assert "999 rows" in report.problems["too few interactions"][0]
    assert "20 users with 2+ interactions" in report.problems["too few active users"][0]


def _personalize_resources(personalize) -> dict[str, set[str]]:
    """The ARN of every resource on the local service, by kind: what a retraining run would pay for."""
    kinds = {
        "list_dataset_groups": ("datasetGroups", "datasetGroupArn"),
        "list_schemas": ("schemas", "schemaArn"),
        "list_datasets": ("datasets", "datasetArn"),
        "list_dataset_import_jobs": ("datasetImportJobs", "datasetImportJobArn"),
        "list_solutions": ("solutions", "solutionArn"),
        "list_solution_versions": ("solutionVersions", "solutionVersionArn"),
        "list_campaigns": ("campaigns", "campaignArn"),
        "list_filters": ("Filters", "filterArn"),
        "list_batch_inference_jobs": ("batchInferenceJobs", "batchInferenceJobArn"),
        "list_batch_segment_jobs": ("batchSegmentJobs", "batchSegmentJobArn"),
    }
    return {
        key: {item[arn] for page in personalize.get_paginator(method).paginate() for item in page[key]}
        for method, (key, arn) in kinds.items()
    }


def test_service_minimums_are_checked_before_any_paid_call(
    tmp_path, pipeline_env, pipelines_dir, aws_clients
):
    """An export whose report fails the minimums stops the retraining run before it creates anything."""
    import yaml
    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT
    from personalize_pipeline.config import DEFAULT_PATH

    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    prefix = f"minimums-{uuid.uuid4().hex[:8]}"
    raw.update(dataset_group=prefix, start_date="2026-06-01")  # a run at July 1st imports June only
    raw["s3"] = {"bucket": pipeline_env["bucket"], "prefix": prefix}
    s3, personalize = aws_clients("s3"), aws_clients("personalize")
    # What the export leaves for June: the file and its report, failing the minimums; good snapshots.
    path = _write(tmp_path, _interactions(rows=999, users=20))
    key = f"{prefix}/datasets/interactions/2026-06-01T0000.csv"
    s3.upload_file(path, pipeline_env["bucket"], key)
    report = validate_csv(path, f"s3://{pipeline_env['bucket']}/{key}", INTERACTIONS)
    assert "too few interactions" in report.problems
    reports = {"interactions": report.as_dict()}
    for slug in ("items", "users"):
        reports[slug] = {"uri": f"s3://{pipeline_env['bucket']}/{prefix}/datasets/{slug}/x.csv", "ok": True}
    for slug, body in reports.items():
        s3.put_object(
            Bucket=pipeline_env["bucket"],
            Key=f"{prefix}/reports/{slug}/2026-06-01T0000.json",
            Body=json.dumps(body).encode(),
        )
    before = _personalize_resources(personalize)

    with pipelines_dir({"personalize": raw}, tmp_path / "pipelines"):
        dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).get_dag("personalize_retrain_full")
        run = dag.test(logical_date=datetime(2026, 7, 1, tzinfo=UTC), run_conf={"poll_seconds": 1})

    assert str(run.state) == "failed"
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["plan"] == "failed", states
    assert _personalize_resources(personalize) == before


def test_duplicate_item_ids_are_reported(tmp_path):
    lines = [f"I{i},Books,9.5,1700000000" for i in range(300)] + ["I7,Toys,1.0,1700000000"]
    report = _problems(tmp_path, lines, header="ITEM_ID,CATEGORY,PRICE,CREATION_TIMESTAMP", spec=ITEMS)
    assert report.problems["duplicate ITEM_ID"] == ["line 302: 'I7'"]
    assert report.stats["distinct_ids"] == 300


def test_unreadable_csv_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text("USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\nU1,I1,view,1,extra,cells\n")
    report = validate_csv(str(path), URI, INTERACTIONS)
    assert "unreadable CSV" in report.problems


def test_duplicates_are_found_within_and_across_blocks(tmp_path):
    lines = [f"U{i},de,25-34" for i in range(400)] + ["U3,de,25-34", "U399,fr,35-44", "U399,fr,35-44"]
    header = ",".join(USERS.columns)
    report = validate_csv(_write(tmp_path, lines, header=header), URI, USERS, block_size=1024)
    assert report.problems["duplicate USER_ID"] == ["line 402: 'U3'", "line 403: 'U399'", "line 404: 'U399'"]
    assert report.stats["distinct_ids"] == 400


def test_a_quoted_newline_across_a_block_boundary_is_one_value(tmp_path):
    rows = _interactions()
    rows[161] = '"U1xxxxxxx",I1,"vi\new",1700000000'  # its quoted newline is the last one before byte 4096
    report = _problems(tmp_path, rows, allowed_event_types={"view", "purchase"})
    assert report.rows == 1200
    assert report.problems["unknown EVENT_TYPE"] == ["line 163: 'vi\\new'"]


def test_id_length_counts_characters_not_bytes(tmp_path):
    rows = _interactions()
    rows[20] = f"{'é' * 256},I1,view,1700000000"  # 512 bytes, 256 characters: allowed
    rows[30] = f"{'é' * 257},I1,view,1700000000"
    report = _problems(tmp_path, rows)
    assert list(report.problems) == ["USER_ID longer than 256 characters"]
    assert report.problems["USER_ID longer than 256 characters"][0].startswith("line 32: ")


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("I5,Books,nan,1700000000", "PRICE is not a float"),
        ("I5,Books,-inf,1700000000", "PRICE is not a float"),
        ("I5,Books,9.5,1700000000.5", "CREATION_TIMESTAMP is not a long"),
        ("I5,Books,9.5,1700000000000", "CREATION_TIMESTAMP looks like milliseconds"),
    ],
)
def test_numbers_in_the_items_file_are_checked(tmp_path, line, kind):
    lines = [f"I{i},Books,{i}.5,{1_700_000_000 + i}" for i in range(300)]
    lines[5] = line
    report = _problems(tmp_path, lines, header="ITEM_ID,CATEGORY,PRICE,CREATION_TIMESTAMP", spec=ITEMS)
    assert [k for k in report.problems if k.startswith(kind)], report.problems
    examples = [example for found in report.problems.values() for example in found]
    assert all(example.startswith("line 7: ") for example in examples), examples
