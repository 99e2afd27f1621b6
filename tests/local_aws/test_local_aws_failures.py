"""Failure paths the service reports through CREATE FAILED + failureReason, or as errors."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from conftest import ROLE, walked

from local_aws.testing import synthetic_interactions_csv, wait_for

GOOD = synthetic_interactions_csv(n_users=60, n_items=80, per_user=20, seed=3)  # 1,200 rows


@pytest.fixture(scope="module")
def dataset(make_dataset):
    return make_dataset("failures")


def test_missing_columns_fail_the_import(dataset, import_csv):
    csv = "USER_ID,ITEM_ID\n" + "\n".join(f"u{i},i{i}" for i in range(1200))
    job = import_csv(dataset[1], "missing-columns", csv)
    assert job["status"] == "CREATE FAILED"
    assert job["failureReason"] == "Input CSV is missing the following columns: [TIMESTAMP, EVENT_TYPE]"


def test_a_column_not_in_the_schema_fails_the_import(dataset, import_csv):
    frame = pd.read_csv(io.StringIO(GOOD), dtype=str, keep_default_na=False)
    frame["COLOUR"] = "red"
    job = import_csv(dataset[1], "extra-column", frame.to_csv(index=False))
    assert job["status"] == "CREATE FAILED"
    assert job["failureReason"] == "Input CSV has columns that are not in the schema: [COLOUR]"


def test_too_few_interactions_fail_the_import(dataset, import_csv):
    job = import_csv(dataset[1], "too-few", "\n".join(GOOD.splitlines()[:500]) + "\n")
    assert job["status"] == "CREATE FAILED"
    assert "at least 1000 records" in job["failureReason"]


def test_millisecond_timestamps_are_rejected(dataset, import_csv):
    frame = pd.read_csv(io.StringIO(GOOD), dtype=str, keep_default_na=False)
    frame["TIMESTAMP"] = frame["TIMESTAMP"] + "000"
    job = import_csv(dataset[1], "milliseconds", frame.to_csv(index=False))
    assert job["status"] == "CREATE FAILED"
    assert "epoch seconds" in job["failureReason"] and "milliseconds" in job["failureReason"]


def test_unreadable_location_fails(personalize, dataset):
    job = personalize.create_dataset_import_job(
        jobName="nowhere",
        datasetArn=dataset[1],
        roleArn=ROLE,
        dataSource={"dataLocation": "s3://test-data/does/not/exist/"},
    )["datasetImportJobArn"]
    record, seen = wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]
    )
    assert walked(seen, ["CREATE PENDING", "CREATE IN_PROGRESS", "CREATE FAILED"]), seen
    assert record["failureReason"] == "Invalid Data location."


def test_training_minimums_are_checked_when_training(personalize, make_dataset, import_csv):
    group, dataset = make_dataset("few-users")
    # 1,200 interactions but only 20 users
    csv = synthetic_interactions_csv(n_users=20, n_items=200, per_user=60, seed=5)
    assert import_csv(dataset, "few-users-import", csv)["status"] == "ACTIVE"
    solution = personalize.create_solution(
        name="few-users-sol",
        datasetGroupArn=group,
        performAutoTraining=False,
        recipeArn="arn:aws:personalize:::recipe/aws-user-personalization",
    )
    wait_for(lambda: personalize.describe_solution(solutionArn=solution["solutionArn"])["solution"])
    arn = personalize.create_solution_version(solutionArn=solution["solutionArn"])["solutionVersionArn"]
    record, _ = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"]
    )
    assert record["status"] == "CREATE FAILED"
    assert record["failureReason"] == "Dataset has fewer than 25 users with at least 2 interactions each."
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.get_solution_metrics(solutionVersionArn=arn)


def test_incremental_import_appends(personalize, make_dataset, import_csv, endpoint):
    group, dataset = make_dataset("incremental")
    assert import_csv(dataset, "incr-full", GOOD)["status"] == "ACTIVE"
    more = synthetic_interactions_csv(n_users=60, n_items=80, per_user=20, seed=4)
    job = import_csv(dataset, "incr-more", more, mode="INCREMENTAL")
    assert job["status"] == "ACTIVE" and job["importMode"] == "INCREMENTAL"
    listed = personalize.list_dataset_import_jobs(datasetArn=dataset)["datasetImportJobs"]
    assert [j["jobName"] for j in listed] == ["incr-more", "incr-full"]


def test_stop_solution_version_while_pending(personalize, make_dataset, import_csv):
    group, dataset = make_dataset("stopping")
    import_csv(dataset, "stopping-import", GOOD)
    solution = personalize.create_solution(
        name="stopping-sol", datasetGroupArn=group, performAutoTraining=False
    )["solutionArn"]
    wait_for(lambda: personalize.describe_solution(solutionArn=solution)["solution"])
    arn = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    personalize.stop_solution_version_creation(solutionVersionArn=arn)
    record, _ = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"]
    )
    assert record["status"] == "CREATE STOPPED"
