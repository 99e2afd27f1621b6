"""What holds while a resource is pending or being deleted, where no status moves on its own.

On the shared endpoint these states last a tenth of a second, too short to assert on a busy machine.
"""

from __future__ import annotations

import pytest
from conftest import ROLE


def test_a_new_group_is_pending_and_takes_no_dataset_yet(frozen):
    personalize = frozen["personalize"]
    group = personalize.create_dataset_group(name="rules-pending")["datasetGroupArn"]
    assert (
        personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"]["status"]
        == "CREATE PENDING"
    )
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.create_dataset(
            name="too-early",
            datasetGroupArn=group,
            schemaArn=frozen["schema"],
            datasetType="INTERACTIONS",
        )


def test_a_deleted_group_is_delete_pending(frozen):
    personalize = frozen["personalize"]
    personalize.delete_dataset_group(datasetGroupArn=frozen["empty"])
    status = personalize.describe_dataset_group(datasetGroupArn=frozen["empty"])["datasetGroup"]["status"]
    assert status == "DELETE PENDING"


def test_more_than_five_busy_imports_hit_the_limit(frozen):
    personalize = frozen["personalize"]
    created = []
    with pytest.raises(personalize.exceptions.LimitExceededException):
        for n in range(6):
            created.append(
                personalize.create_dataset_import_job(
                    jobName=f"limit-{n}",
                    datasetArn=frozen["dataset"],
                    roleArn=ROLE,
                    dataSource={"dataLocation": "s3://test-data/nothing-here.csv"},
                )["datasetImportJobArn"]
            )
    assert len(created) == 5
    listed = personalize.list_dataset_import_jobs(datasetArn=frozen["dataset"])["datasetImportJobs"]
    assert sorted(j["datasetImportJobArn"] for j in listed) == sorted(created)
    assert {j["status"] for j in listed} == {"CREATE PENDING"}
