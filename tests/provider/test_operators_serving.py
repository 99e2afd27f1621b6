"""Filter, event tracker, campaign and batch segment operators with the hook's client mocked."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pendulum
import pytest
from airflow.providers.common.compat.sdk import AirflowException, TaskDeferred
from botocore.exceptions import ClientError

from personalize_provider.hooks.personalize import PersonalizeHook
from personalize_provider.operators.personalize import (
    PersonalizeCreateBatchSegmentJobOperator,
    PersonalizeCreateCampaignOperator,
    PersonalizeCreateEventTrackerOperator,
    PersonalizeCreateFilterOperator,
    PersonalizeResourceMismatchError,
)
from personalize_provider.triggers.personalize import TRIGGERS_BY_KIND

ACCOUNT = "arn:aws:personalize:us-east-1:123456789012"
GROUP = f"{ACCOUNT}:dataset-group/shop"
VERSION = f"{ACCOUNT}:solution/recs/aaaa1111"
VERSION_2 = f"{ACCOUNT}:solution/recs/bbbb2222"
FILTER = f"{ACCOUNT}:filter/no-bought"
TRACKER = f"{ACCOUNT}:event-tracker/0123abcd"
CAMPAIGN = f"{ACCOUNT}:campaign/recs"
SEGMENT = f"{ACCOUNT}:batch-segment-job/seg"
EXPRESSION = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")'
COMMON = {"task_id": "t", "aws_conn_id": None, "region_name": "us-east-1", "waiter_delay": 0}


class _TaskInstance(SimpleNamespace):
    def xcom_push(self, key, value):
        self.pushed[key] = value


def _context(run_id: str = "manual__1"):
    ti = _TaskInstance(dag_id="d", task_id="t", run_id=run_id, map_index=-1, pushed={})
    return {"ti": ti, "dag_run": SimpleNamespace(logical_date=pendulum.datetime(2026, 11, 1), run_after=None)}


@pytest.fixture
def conn(conn):
    conn.describe_solution_version.return_value = {"solutionVersion": {"datasetGroupArn": GROUP}}
    return conn


@pytest.fixture
def get_waiter():
    with mock.patch.object(PersonalizeHook, "get_waiter") as waiter:
        yield waiter


def _filter(**kwargs):
    return PersonalizeCreateFilterOperator(
        name="no-bought", dataset_group_arn=GROUP, filter_expression=EXPRESSION, **COMMON, **kwargs
    )


def _tracker(**kwargs):
    return PersonalizeCreateEventTrackerOperator(name="clicks", dataset_group_arn=GROUP, **COMMON, **kwargs)


def _campaign(version=VERSION, **kwargs):
    return PersonalizeCreateCampaignOperator(name="recs", solution_version_arn=version, **COMMON, **kwargs)


def _segment(**kwargs):
    return PersonalizeCreateBatchSegmentJobOperator(
        solution_version_arn=VERSION,
        input_path="s3://b/in.jsonl",
        output_path="s3://b/out/",
        role_arn="arn:aws:iam::123456789012:role/p",
        **{"num_results": 10, **COMMON, **kwargs},
    )


def _fresh_filter(conn):
    conn.list_filters.return_value = {"Filters": []}
    conn.create_filter.return_value = {"filterArn": FILTER}
    conn.describe_filter.return_value = {"filter": {"status": "CREATE PENDING"}}
    return conn.create_filter


def _fresh_tracker(conn):
    conn.list_event_trackers.return_value = {"eventTrackers": []}
    conn.create_event_tracker.return_value = {"eventTrackerArn": TRACKER, "trackingId": "tid"}
    conn.describe_event_tracker.return_value = {
        "eventTracker": {"status": "CREATE PENDING", "trackingId": "tid"}
    }
    return conn.create_event_tracker


def _fresh_campaign(conn):
    conn.list_campaigns.return_value = {"campaigns": []}
    conn.create_campaign.return_value = {"campaignArn": CAMPAIGN}
    conn.describe_campaign.return_value = {"campaign": {"status": "CREATE PENDING"}}
    return conn.create_campaign


def _fresh_segment(conn):
    conn.list_batch_segment_jobs.return_value = {"batchSegmentJobs": []}
    conn.create_batch_segment_job.return_value = {"batchSegmentJobArn": SEGMENT}
    conn.describe_batch_segment_job.return_value = {"batchSegmentJob": {"status": "CREATE PENDING"}}
    return conn.create_batch_segment_job


CASES = {
    "filter": (_filter, _fresh_filter, FILTER, "filter"),
    "event_tracker": (_tracker, _fresh_tracker, TRACKER, "event_tracker"),
    "campaign": (_campaign, _fresh_campaign, CAMPAIGN, "campaign"),
    "batch_segment_job": (_segment, _fresh_segment, SEGMENT, "batch_segment_job"),
}
MODES = {
    "no_wait": {"wait_for_completion": False},
    "wait": {"wait_for_completion": True, "deferrable": False},
    "defer": {"wait_for_completion": True, "deferrable": True},
}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("case", sorted(CASES))
def test_creates_and_waits_as_asked(conn, get_waiter, case, mode):
    make, fresh, arn, kind = CASES[case]
    create = fresh(conn)
    op = make(**MODES[mode])
    if mode == "defer":
        with pytest.raises(TaskDeferred) as deferred:
            op.execute(_context())
        assert isinstance(deferred.value.trigger, TRIGGERS_BY_KIND[kind])
        assert deferred.value.trigger.return_value == arn
        assert deferred.value.method_name == "execute_complete"
    else:
        assert op.execute(_context()) == arn
    assert create.call_count == 1
    assert get_waiter.return_value.wait.call_count == (1 if mode == "wait" else 0)


def test_segment_job_name_is_derived_from_the_task_instance(conn, get_waiter):
    _fresh_segment(conn)
    _segment(wait_for_completion=False).execute(_context("run-a"))
    _segment(wait_for_completion=False).execute(_context("run-b"))
    names = [c.kwargs["jobName"] for c in conn.create_batch_segment_job.call_args_list]
    assert names[0].startswith("segment-20261101-") and names[0] != names[1]
    assert conn.create_batch_segment_job.call_args.kwargs["numResults"] == 10


def test_filter_with_equal_expression_is_adopted(conn, get_waiter):
    conn.list_filters.return_value = {"Filters": [{"name": "no-bought", "filterArn": FILTER}]}
    conn.describe_filter.return_value = {"filter": {"status": "ACTIVE", "filterExpression": EXPRESSION}}
    assert _filter().execute(_context()) == FILTER
    conn.create_filter.assert_not_called()
    get_waiter.assert_not_called()


def test_filter_with_other_expression_fails_clearly(conn):
    conn.list_filters.return_value = {"Filters": [{"name": "no-bought", "filterArn": FILTER}]}
    conn.describe_filter.return_value = {"filter": {"status": "ACTIVE", "filterExpression": "INCLUDE x"}}
    with pytest.raises(PersonalizeResourceMismatchError, match="filterExpression"):
        _filter().execute(_context())
    conn.create_filter.assert_not_called()


def test_event_tracker_of_our_name_is_adopted_and_its_tracking_id_pushed(conn, get_waiter):
    conn.list_event_trackers.return_value = {
        "eventTrackers": [{"name": "clicks", "eventTrackerArn": TRACKER}]
    }
    conn.describe_event_tracker.return_value = {
        "eventTracker": {"status": "ACTIVE", "datasetGroupArn": GROUP, "trackingId": "tid"}
    }
    context = _context()
    assert _tracker().execute(context) == TRACKER
    assert context["ti"].pushed["tracking_id"] == "tid"
    conn.create_event_tracker.assert_not_called()


def test_event_tracker_of_another_name_fails_clearly(conn):
    conn.list_event_trackers.return_value = {
        "eventTrackers": [{"name": "legacy", "eventTrackerArn": TRACKER}]
    }
    with pytest.raises(PersonalizeResourceMismatchError, match="already has event tracker 'legacy'"):
        _tracker().execute(_context())
    conn.create_event_tracker.assert_not_called()


def _existing_campaign(conn, version, update=None, tps=1):
    conn.list_campaigns.return_value = {"campaigns": [{"name": "recs", "campaignArn": CAMPAIGN}]}
    campaign = {"status": "ACTIVE", "solutionVersionArn": version, "minProvisionedTPS": tps}
    if update:
        campaign["latestCampaignUpdate"] = update
    conn.describe_campaign.return_value = {"campaign": campaign}


def test_campaign_on_the_requested_version_returns_at_once(conn, get_waiter):
    _existing_campaign(conn, VERSION, {"solutionVersionArn": VERSION, "status": "ACTIVE"})
    assert _campaign().execute(_context()) == CAMPAIGN
    conn.create_campaign.assert_not_called()
    conn.update_campaign.assert_not_called()
    get_waiter.assert_not_called()


@pytest.mark.parametrize("mode", sorted(MODES))
def test_campaign_on_another_version_is_updated_and_the_update_waited_on(conn, get_waiter, mode):
    _existing_campaign(conn, VERSION)
    after = {"status": "ACTIVE", "solutionVersionArn": VERSION, "minProvisionedTPS": 1}
    after["latestCampaignUpdate"] = {"solutionVersionArn": VERSION_2, "status": "CREATE PENDING"}
    conn.describe_campaign.side_effect = [conn.describe_campaign.return_value, {"campaign": after}]
    op = _campaign(VERSION_2, **MODES[mode])
    if mode == "defer":
        with pytest.raises(TaskDeferred) as deferred:
            op.execute(_context())
        assert isinstance(deferred.value.trigger, TRIGGERS_BY_KIND["campaign_update"])
        assert deferred.value.kwargs == {"kind_name": "campaign_update"}
    else:
        assert op.execute(_context()) == CAMPAIGN
    conn.update_campaign.assert_called_once_with(
        campaignArn=CAMPAIGN, solutionVersionArn=VERSION_2, minProvisionedTPS=1
    )
    conn.create_campaign.assert_not_called()
    assert get_waiter.call_args_list == ([mock.call("campaign_update_active")] if mode == "wait" else [])


def test_campaign_with_an_update_in_flight_to_our_version_waits_without_updating(conn, get_waiter):
    _existing_campaign(conn, VERSION, {"solutionVersionArn": VERSION_2, "status": "CREATE IN_PROGRESS"})
    assert _campaign(VERSION_2, deferrable=False).execute(_context()) == CAMPAIGN
    conn.update_campaign.assert_not_called()
    get_waiter.assert_called_once_with("campaign_update_active")


def test_campaign_with_an_update_in_flight_to_another_version_fails_clearly(conn):
    _existing_campaign(conn, VERSION, {"solutionVersionArn": VERSION_2, "status": "CREATE IN_PROGRESS"})
    with pytest.raises(AirflowException, match="is being updated to"):
        _campaign(VERSION).execute(_context())
    conn.update_campaign.assert_not_called()


def test_campaign_tps_change_is_an_update(conn, get_waiter):
    _existing_campaign(conn, VERSION, tps=1)
    _campaign(VERSION, min_provisioned_tps=5, wait_for_completion=False).execute(_context())
    assert conn.update_campaign.call_args.kwargs["minProvisionedTPS"] == 5


def test_segment_job_of_this_task_instance_is_reconnected(conn, get_waiter):
    _fresh_segment(conn)
    _segment(wait_for_completion=False).execute(_context())
    name = conn.create_batch_segment_job.call_args.kwargs["jobName"]
    conn.list_batch_segment_jobs.return_value = {
        "batchSegmentJobs": [{"jobName": name, "batchSegmentJobArn": SEGMENT, "status": "CREATE IN_PROGRESS"}]
    }
    conn.describe_batch_segment_job.return_value = {
        "batchSegmentJob": {
            "status": "ACTIVE",
            "jobInput": {"s3DataSource": {"path": "s3://b/in.jsonl"}},
            "jobOutput": {"s3DataDestination": {"path": "s3://b/out/"}},
            "numResults": 10,
        }
    }
    assert _segment(deferrable=False).execute(_context()) == SEGMENT
    assert conn.create_batch_segment_job.call_count == 1
    with pytest.raises(PersonalizeResourceMismatchError, match="numResults"):
        _segment(num_results=50).execute(_context())


@pytest.mark.parametrize(
    ("case", "kind_name", "description"),
    [
        ("filter", "", {"filter": {"status": "CREATE FAILED", "failureReason": "bad expression"}}),
        (
            "event_tracker",
            "",
            {"eventTracker": {"status": "CREATE FAILED", "failureReason": "bad expression"}},
        ),
        (
            "batch_segment_job",
            "",
            {"batchSegmentJob": {"status": "CREATE FAILED", "failureReason": "bad expression"}},
        ),
        (
            "campaign",
            "campaign_update",
            {
                "campaign": {
                    "latestCampaignUpdate": {"status": "CREATE FAILED", "failureReason": "bad expression"}
                }
            },
        ),
    ],
)
def test_execute_complete_raises_with_the_reason_and_arn(conn, case, kind_name, description):
    make, _, arn, kind = CASES[case]
    getattr(conn, f"describe_{kind}").return_value = description
    event = {"status": "error", "message": "waiter failed", "resource_arn": arn}
    with pytest.raises(AirflowException) as failure:
        make().execute_complete(_context(), event, kind_name)
    assert "bad expression" in str(failure.value) and arn in str(failure.value)
    assert "CREATE FAILED" in str(failure.value)


def test_execute_complete_returns_the_arn_on_success(conn):
    conn.describe_event_tracker.return_value = {"eventTracker": {"status": "ACTIVE", "trackingId": "tid"}}
    context = _context()
    event = {"status": "success", "resource_arn": TRACKER}
    assert _tracker().execute_complete(context, event) == TRACKER
    assert context["ti"].pushed["tracking_id"] == "tid"


def _already_exists(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ResourceAlreadyExistsException", "Message": "exists"}}, operation)


def test_campaign_created_by_a_concurrent_attempt_is_adopted_not_created_twice(conn, get_waiter):
    conn.list_campaigns.side_effect = [
        {"campaigns": []},
        {"campaigns": [{"name": "recs", "campaignArn": CAMPAIGN}]},
    ]
    conn.create_campaign.side_effect = _already_exists("CreateCampaign")
    conn.describe_campaign.return_value = {
        "campaign": {"status": "ACTIVE", "solutionVersionArn": VERSION, "minProvisionedTPS": 1}
    }
    assert _campaign().execute(_context()) == CAMPAIGN
    assert conn.create_campaign.call_count == 1
    conn.update_campaign.assert_not_called()


def test_filter_created_by_a_concurrent_attempt_is_compared_before_adoption(conn):
    conn.list_filters.side_effect = [
        {"Filters": []},
        {"Filters": [{"name": "no-bought", "filterArn": FILTER}]},
    ]
    conn.create_filter.side_effect = _already_exists("CreateFilter")
    conn.describe_filter.return_value = {"filter": {"status": "ACTIVE", "filterExpression": "INCLUDE x"}}
    with pytest.raises(PersonalizeResourceMismatchError, match="filterExpression"):
        _filter().execute(_context())


@pytest.mark.parametrize("case", sorted(CASES))
def test_waiter_delay_is_an_int_passed_to_the_trigger_as_given(conn, case, monkeypatch):
    make, fresh, _, _ = CASES[case]
    fresh(conn)
    monkeypatch.setitem(COMMON, "waiter_delay", 7)
    op = make(deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(_context())
    assert deferred.value.trigger.waiter_delay == 7


@pytest.mark.parametrize("case", sorted(CASES))
def test_waiter_delay_rendered_as_text_is_refused_before_any_wait(conn, case, monkeypatch):
    """No int → text → int round trip: text, or a template rendering to text, names the fix."""
    make, fresh, _, _ = CASES[case]
    fresh(conn)
    monkeypatch.setitem(COMMON, "waiter_delay", "{{ params.poll }}")
    with pytest.raises(TypeError, match="waiter_delay must be an int, got 'soon'; a template must render"):
        make(deferrable=True).pre_execute({"params": {"poll": "soon"}})
    monkeypatch.setitem(COMMON, "waiter_delay", "7")
    with pytest.raises(TypeError, match="waiter_delay must be an int, got '7'"):
        make(deferrable=True).execute(_context())


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_templated_waiter_delay_renders_to_the_int_the_run_holds(conn, case, monkeypatch):
    make, fresh, _, _ = CASES[case]
    fresh(conn)
    monkeypatch.setitem(COMMON, "waiter_delay", "{{ params.poll_seconds }}")
    op = make(deferrable=True)
    op.render_waiter_delay({"params": {"poll_seconds": 7}})
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(_context())
    assert deferred.value.trigger.waiter_delay == 7
