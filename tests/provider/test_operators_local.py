"""Personalize operators against the local Personalize service: adoption, retries and failures."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pendulum
import pytest
from airflow.providers.common.compat.sdk import AirflowException

from local_aws.testing import SYNTHETIC_INTERACTIONS_SCHEMA
from personalize_provider.hooks.personalize import PersonalizeHook
from personalize_provider.operators.personalize import (
    PersonalizeCreateBatchSegmentJobOperator,
    PersonalizeCreateCampaignOperator,
    PersonalizeCreateDatasetGroupOperator,
    PersonalizeCreateDatasetImportJobOperator,
    PersonalizeCreateEventTrackerOperator,
    PersonalizeCreateFilterOperator,
    PersonalizeCreateSchemaOperator,
    PersonalizeCreateSolutionOperator,
    PersonalizeCreateSolutionVersionOperator,
    PersonalizeResourceMismatchError,
)
from personalize_provider.operators.personalize_cleanup import (
    PersonalizeCleanupSolutionVersionsOperator,
    PersonalizeDeleteResourcesOperator,
)

SCHEMA = SYNTHETIC_INTERACTIONS_SCHEMA


class _TaskInstance(SimpleNamespace):
    def xcom_push(self, key, value):
        self.pushed[key] = value


def _context(run_id: str, task_id: str = "import"):
    """The part of a task context the operators read: identity of the task instance and the run."""
    ti = _TaskInstance(dag_id="provider_tests", task_id=task_id, run_id=run_id, map_index=-1, pushed={})
    return {"ti": ti, "dag_run": SimpleNamespace(logical_date=pendulum.datetime(2026, 11, 1), run_after=None)}


def _import_jobs(aws_clients, dataset_arn):
    return aws_clients("personalize").list_dataset_import_jobs(datasetArn=dataset_arn)["datasetImportJobs"]


def _import_job_arns(aws_clients, dataset_arn) -> set[str]:
    return {j["datasetImportJobArn"] for j in _import_jobs(aws_clients, dataset_arn)}


def _new_import_jobs(aws_clients, dataset_arn, before: set[str]) -> set[str]:
    """Every job the service lists for the dataset now that it did not list before."""
    return _import_job_arns(aws_clients, dataset_arn) - before


def test_group_operator_adopts_the_existing_group(dataset):
    again = PersonalizeCreateDatasetGroupOperator(
        task_id="g", name=dataset.name, waiter_delay=1, deferrable=False
    )
    assert again.execute(_context("another-run")) == dataset.group


def test_schema_operator_adopts_equal_and_refuses_changed_fields(dataset):
    same = PersonalizeCreateSchemaOperator(task_id="s", name=dataset.name, schema=SCHEMA)
    assert same.execute(_context("r")) == dataset.schema
    changed = {**SCHEMA, "fields": SCHEMA["fields"][:4]}
    with pytest.raises(PersonalizeResourceMismatchError, match="already exists with other fields"):
        PersonalizeCreateSchemaOperator(task_id="s", name=dataset.name, schema=changed).execute(_context("r"))


def test_retry_after_a_crash_right_after_create_leaves_exactly_one_job(dataset, aws_clients):
    run_id = f"manual__{uuid.uuid4().hex}"
    before = _import_job_arns(aws_clients, dataset.arn)
    # First attempt: the worker dies right after the create call (nothing waited, nothing returned).
    first = PersonalizeCreateDatasetImportJobOperator(
        task_id="import", dataset_arn=dataset.arn, data_location=dataset.good, wait_for_completion=False
    )
    started = first.execute(_context(run_id))
    # The retry of the same task instance reconnects to that job and waits for it.
    retry = PersonalizeCreateDatasetImportJobOperator(
        task_id="import",
        dataset_arn=dataset.arn,
        data_location=dataset.good,
        waiter_delay=1,
        deferrable=False,
    )
    assert retry.execute(_context(run_id)) == started
    assert _new_import_jobs(aws_clients, dataset.arn, before) == {started}
    ours = [j for j in _import_jobs(aws_clients, dataset.arn) if j["datasetImportJobArn"] == started]
    same_run = [
        j
        for j in _import_jobs(aws_clients, dataset.arn)
        if j["jobName"].startswith(started.rsplit("/", 1)[1])
    ]
    assert len(ours) == 1 and len(same_run) == 1
    assert ours[0]["status"] == "ACTIVE"
    # A third attempt after success returns at once, still with one job.
    assert retry.execute(_context(run_id)) == started
    assert (
        len([j for j in _import_jobs(aws_clients, dataset.arn) if j["jobName"] == same_run[0]["jobName"]])
        == 1
    )


def test_a_different_run_starts_its_own_job(dataset, aws_clients):
    arns = {
        PersonalizeCreateDatasetImportJobOperator(
            task_id="import",
            dataset_arn=dataset.arn,
            data_location=dataset.good,
            wait_for_completion=False,
        ).execute(_context(f"run-{i}-{uuid.uuid4().hex[:6]}"))
        for i in range(2)
    }
    assert len(arns) == 2


def test_reusing_a_job_name_for_other_data_fails_clearly(dataset):
    run_id = f"manual__{uuid.uuid4().hex}"
    PersonalizeCreateDatasetImportJobOperator(
        task_id="import",
        dataset_arn=dataset.arn,
        data_location=dataset.good,
        wait_for_completion=False,
    ).execute(_context(run_id))
    other = PersonalizeCreateDatasetImportJobOperator(
        task_id="import", dataset_arn=dataset.arn, data_location=dataset.bad, wait_for_completion=False
    )
    with pytest.raises(PersonalizeResourceMismatchError, match="dataSource.dataLocation"):
        other.execute(_context(run_id))


def test_create_failed_job_fails_the_task_with_the_reason_and_arn(dataset, aws_clients):
    op = PersonalizeCreateDatasetImportJobOperator(
        task_id="import", dataset_arn=dataset.arn, data_location=dataset.bad, waiter_delay=1, deferrable=False
    )
    with pytest.raises(AirflowException) as failure:
        op.execute(_context(f"manual__{uuid.uuid4().hex}"))
    message = str(failure.value)
    assert "missing the following columns" in message and "EVENT_TYPE" in message
    assert ":dataset-import-job/" in message and "CREATE FAILED" in message


def test_retry_after_a_failed_job_starts_the_next_generation(dataset, aws_clients):
    run_id = f"manual__{uuid.uuid4().hex}"
    op = PersonalizeCreateDatasetImportJobOperator(
        task_id="import", dataset_arn=dataset.arn, data_location=dataset.bad, waiter_delay=1, deferrable=False
    )
    for _ in range(2):
        with pytest.raises(AirflowException, match="CREATE FAILED"):
            op.execute(_context(run_id))
    names = sorted(j["jobName"] for j in _import_jobs(aws_clients, dataset.arn))
    base = next(n for n in names if f"{n}-r2" in names)
    assert f"{base}-r3" not in names


def _fixture_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(Path(__file__).resolve().parents[1] / "dag_fixtures")).get_dag(dag_id)


def _run_fixture_dag(dataset_arn: str, data_location: str, dag_id: str = "provider_import_job_deferred"):
    return _fixture_dag(dag_id).test(run_conf={"dataset_arn": dataset_arn, "data_location": data_location})


def _task_instance(run, task_id: str):
    return next(ti for ti in run.get_task_instances() if ti.task_id == task_id)


def _trigger_of(run, task_id: str) -> tuple[str, dict]:
    """The trigger the task deferred to, as the deferral left it in Airflow's database.

    A task that waited in its worker has none: its TI never pointed at a trigger row.
    """
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session

    ti = _task_instance(run, task_id)
    assert ti.trigger_id is not None, f"{task_id} never deferred"
    with create_session() as session:
        trigger = session.get(Trigger, ti.trigger_id)
        return trigger.classpath, trigger.kwargs


def test_deferred_wait_of_a_failing_job_fails_the_task(dataset, aws_clients):
    before = _import_job_arns(aws_clients, dataset.arn)
    run = _run_fixture_dag(dataset.arn, dataset.bad)
    assert str(run.state) == "failed"
    classpath, kwargs = _trigger_of(run, "import")
    assert classpath.endswith(".PersonalizeDatasetImportJobCompleteTrigger")
    assert {kwargs["resource_arn"]} == _new_import_jobs(aws_clients, dataset.arn, before)


def test_deferred_wait_of_a_good_job_succeeds(dataset, aws_clients):
    before = _import_job_arns(aws_clients, dataset.arn)
    run = _run_fixture_dag(dataset.arn, dataset.good)
    assert str(run.state) == "success"
    new = [j for j in _import_jobs(aws_clients, dataset.arn) if j["datasetImportJobArn"] not in before]
    assert [j["status"] for j in new] == ["ACTIVE"]
    # The task gave up its worker: it deferred to the job's trigger, which the resume then read.
    classpath, kwargs = _trigger_of(run, "import")
    assert classpath.endswith(".PersonalizeDatasetImportJobCompleteTrigger")
    assert (
        kwargs["resource_arn"]
        == new[0]["datasetImportJobArn"]
        == _task_instance(run, "import").xcom_pull(task_ids="import")
    )


def test_an_airflow_retry_after_a_crash_right_after_create_reconnects_to_the_one_job(dataset, aws_clients):
    """Airflow's own retry (try 2 of the same task instance) finds the job try 1 started."""
    before = _import_job_arns(aws_clients, dataset.arn)
    run = _run_fixture_dag(dataset.arn, dataset.good, dag_id="provider_import_job_retried")
    assert str(run.state) == "success"
    assert _task_instance(run, "import").try_number == 2
    new = [j for j in _import_jobs(aws_clients, dataset.arn) if j["datasetImportJobArn"] not in before]
    assert [j["status"] for j in new] == ["ACTIVE"]


@pytest.fixture(scope="module")
def two_versions(dataset):
    """Two ACTIVE versions of a popularity solution trained on the good data."""
    PersonalizeCreateDatasetImportJobOperator(
        task_id="import",
        dataset_arn=dataset.arn,
        data_location=dataset.good,
        waiter_delay=1,
        deferrable=False,
    ).execute(_context(f"train-data-{uuid.uuid4().hex[:6]}"))
    solution = PersonalizeCreateSolutionOperator(
        task_id="solution",
        name=dataset.name,
        dataset_group_arn=dataset.group,
        recipe_arn="arn:aws:personalize:::recipe/aws-popularity-count",
        waiter_delay=1,
        deferrable=False,
    ).execute(_context("r"))
    versions = [
        PersonalizeCreateSolutionVersionOperator(
            task_id="train", solution_arn=solution, waiter_delay=1, deferrable=False
        ).execute(_context(f"train-{n}-{uuid.uuid4().hex[:6]}"))
        for n in range(2)
    ]
    return SimpleNamespace(solution=solution, versions=versions)


def _campaign(dataset, version):
    return PersonalizeCreateCampaignOperator(
        task_id="deploy", name=dataset.name, solution_version_arn=version, waiter_delay=1, deferrable=False
    )


def test_campaign_is_created_updated_and_left_alone_when_on_the_version(dataset, two_versions, aws_clients):
    personalize = aws_clients("personalize")
    first, second = two_versions.versions
    arn = _campaign(dataset, first).execute(_context("deploy-1"))
    assert personalize.describe_campaign(campaignArn=arn)["campaign"]["solutionVersionArn"] == first

    assert _campaign(dataset, second).execute(_context("deploy-2")) == arn
    campaign = personalize.describe_campaign(campaignArn=arn)["campaign"]
    assert campaign["solutionVersionArn"] == second
    assert campaign["latestCampaignUpdate"]["status"] == "ACTIVE"

    with mock.patch.object(PersonalizeHook, "get_waiter") as get_waiter:
        again = _campaign(dataset, second)
        with mock.patch.object(again.hook.conn, "update_campaign") as update:
            assert again.execute(_context("deploy-3")) == arn
    update.assert_not_called()
    get_waiter.assert_not_called()
    assert [
        c["campaignArn"] for c in personalize.list_campaigns()["campaigns"] if c["name"] == dataset.name
    ] == [arn]

    # Retention: the newest ACTIVE version is kept, so is the served one; nothing is training.
    report = PersonalizeCleanupSolutionVersionsOperator(
        task_id="retain", solution_arn=two_versions.solution, keep_newest=1
    ).execute(_context("retain"))
    assert report == {"kept": [second], "stopped": [], "beyond_retention": [first]}
    dry = PersonalizeDeleteResourcesOperator(
        task_id="cleanup", dataset_group_arn=dataset.group, keep_campaign_arns=[], dry_run=True
    ).execute(_context("cleanup"))
    assert dry == {"deleted": [arn], "skipped_busy": []}
    assert personalize.describe_campaign(campaignArn=arn)["campaign"]["status"] == "ACTIVE"


def test_filter_is_created_adopted_and_a_changed_expression_refused(dataset):
    expression = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")'

    def op(expr):
        return PersonalizeCreateFilterOperator(
            task_id="f",
            name=f"{dataset.name}-nobuy",
            dataset_group_arn=dataset.group,
            filter_expression=expr,
            waiter_delay=1,
            deferrable=False,
        )

    arn = op(expression).execute(_context("f"))
    assert op(expression).execute(_context("f-again")) == arn
    with pytest.raises(PersonalizeResourceMismatchError, match="filterExpression"):
        op(expression.replace("purchase", "click")).execute(_context("f"))


def test_event_tracker_is_adopted_by_name_and_refused_under_another(dataset):
    def op(name):
        return PersonalizeCreateEventTrackerOperator(
            task_id="t", name=name, dataset_group_arn=dataset.group, waiter_delay=1, deferrable=False
        )

    context = _context("t")
    arn = op(f"{dataset.name}-events").execute(context)
    assert context["ti"].pushed["tracking_id"]
    assert op(f"{dataset.name}-events").execute(_context("t2")) == arn
    with pytest.raises(PersonalizeResourceMismatchError, match="already has event tracker"):
        op(f"{dataset.name}-other").execute(_context("t3"))


def test_batch_segment_job_runs_once_per_task_instance(dataset, two_versions, pipeline_env, aws_clients):
    solution = PersonalizeCreateSolutionOperator(
        task_id="solution",
        name=f"{dataset.name}-seg",
        dataset_group_arn=dataset.group,
        recipe_arn="arn:aws:personalize:::recipe/aws-item-affinity",
        waiter_delay=1,
        deferrable=False,
    ).execute(_context("r"))
    version = PersonalizeCreateSolutionVersionOperator(
        task_id="train", solution_arn=solution, waiter_delay=1, deferrable=False
    ).execute(_context(f"seg-train-{uuid.uuid4().hex[:6]}"))
    s3, bucket = aws_clients("s3"), pipeline_env["bucket"]
    s3.put_object(
        Bucket=bucket, Key=f"{dataset.name}/seg/in.jsonl", Body=b'{"itemId": "i1"}\n{"itemId": "i2"}\n'
    )

    def op():
        return PersonalizeCreateBatchSegmentJobOperator(
            task_id="segment",
            solution_version_arn=version,
            input_path=f"s3://{bucket}/{dataset.name}/seg/in.jsonl",
            output_path=f"s3://{bucket}/{dataset.name}/seg/out/",
            role_arn="arn:aws:iam::000000000000:role/personalize",
            num_results=5,
            waiter_delay=1,
            deferrable=False,
        )

    run_id = f"seg-{uuid.uuid4().hex[:6]}"
    arn = op().execute(_context(run_id, task_id="segment"))
    assert op().execute(_context(run_id, task_id="segment")) == arn
    jobs = aws_clients("personalize").list_batch_segment_jobs(solutionVersionArn=version)["batchSegmentJobs"]
    assert [(j["batchSegmentJobArn"], j["status"]) for j in jobs] == [(arn, "ACTIVE")]
    out = s3.list_objects_v2(Bucket=bucket, Prefix=f"{dataset.name}/seg/out/")["Contents"]
    body = s3.get_object(Bucket=bucket, Key=out[0]["Key"])["Body"].read().decode().splitlines()
    assert len(body) == 2 and all(len(json.loads(line)["output"]["recommendedUsers"]) == 5 for line in body)


def test_deferred_campaign_deploy_and_sensor_resume_with_the_arn(dataset, two_versions, aws_clients):
    name = f"{dataset.name}-deferred"
    run = _fixture_dag("provider_campaign_deferred").test(
        run_conf={"name": name, "solution_version_arn": two_versions.versions[0]}
    )
    assert str(run.state) == "success"
    campaign = next(c for c in aws_clients("personalize").list_campaigns()["campaigns"] if c["name"] == name)
    assert campaign["status"] == "ACTIVE"
    classpath, kwargs = _trigger_of(run, "deploy")
    assert classpath.endswith(".PersonalizeCampaignActiveTrigger")
    assert kwargs["resource_arn"] == campaign["campaignArn"]


def test_paginated_listing_follows_the_services_next_token(dataset, aws_clients):
    """botocore's paginator sends maxResults and nextToken as the real API does; the service honours both."""
    personalize = aws_clients("personalize")
    for n in range(3):
        personalize.create_schema(name=f"{dataset.name}-page-{n}", schema=json.dumps(SCHEMA))
    everything = [s["schemaArn"] for s in personalize.list_schemas(maxResults=100)["schemas"]]
    first_page = personalize.list_schemas(maxResults=2)
    assert len(first_page["schemas"]) == 2 and first_page["nextToken"]

    hook = PersonalizeHook()
    paged = [
        s["schemaArn"] for s in hook.iter_list("list_schemas", "schemas", PaginationConfig={"PageSize": 2})
    ]
    assert len(everything) >= 4 and paged == everything
