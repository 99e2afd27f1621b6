"""Retention of solution versions and deletion of leftovers: the hook's client mocked, and deletion
against the local service."""

from __future__ import annotations

from datetime import datetime, timedelta

from personalize_provider.operators.personalize_cleanup import (
    PersonalizeCleanupSolutionVersionsOperator,
    PersonalizeDeleteResourcesOperator,
)

SOLUTION = "arn:aws:personalize:us-east-1:123456789012:solution/recs"
GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
COMMON = {"task_id": "t", "aws_conn_id": None, "region_name": "us-east-1"}
T0 = datetime(2026, 11, 1)


def _v(n: int) -> str:
    return f"{SOLUTION}/v{n}"


def _versions(conn, statuses: list[str], served: str | None = None, updating_to: str | None = None):
    """Version n was created at T0 + n hours (the last one is the newest)."""
    conn.list_solution_versions.return_value = {
        "solutionVersions": [
            {"solutionVersionArn": _v(n), "status": s, "creationDateTime": T0 + timedelta(hours=n)}
            for n, s in enumerate(statuses)
        ]
    }
    campaigns = [{"campaignArn": "c1", "name": "c1"}] if served else []
    conn.list_campaigns.return_value = {"campaigns": campaigns}
    update = {"latestCampaignUpdate": {"solutionVersionArn": updating_to}} if updating_to else {}
    conn.describe_campaign.return_value = {"campaign": {"solutionVersionArn": served, **update}}


def test_keeps_newest_active_and_served_versions_and_stops_stray_trainings(conn):
    _versions(
        conn,
        ["ACTIVE", "ACTIVE", "CREATE IN_PROGRESS", "ACTIVE", "ACTIVE", "CREATE PENDING"],
        served=_v(0),
    )
    report = PersonalizeCleanupSolutionVersionsOperator(
        solution_arn=SOLUTION, keep_newest=2, **COMMON
    ).execute({})
    assert report == {
        "kept": [_v(4), _v(3), _v(0)],
        "stopped": [_v(2)],  # v5 is the newest: its training is left alone
        "beyond_retention": [_v(1)],
    }
    conn.stop_solution_version_creation.assert_called_once_with(solutionVersionArn=_v(2))


def test_a_version_a_campaign_is_being_moved_to_is_not_stopped(conn):
    _versions(conn, ["ACTIVE", "CREATE IN_PROGRESS", "CREATE PENDING"], served=_v(0), updating_to=_v(1))
    report = PersonalizeCleanupSolutionVersionsOperator(solution_arn=SOLUTION, **COMMON).execute({})
    assert report["stopped"] == []
    conn.stop_solution_version_creation.assert_not_called()


def test_version_dry_run_only_reports(conn):
    _versions(conn, ["CREATE IN_PROGRESS", "ACTIVE"])
    op = PersonalizeCleanupSolutionVersionsOperator(solution_arn=SOLUTION, dry_run=True, **COMMON)
    assert op.execute({})["stopped"] == [_v(0)]
    conn.stop_solution_version_creation.assert_not_called()


def _leftovers(conn):
    conn.list_solutions.return_value = {"solutions": [{"solutionArn": SOLUTION}]}
    conn.list_campaigns.return_value = {
        "campaigns": [
            {"campaignArn": "arn:c/live", "name": "live", "status": "ACTIVE"},
            {"campaignArn": "arn:c/old", "name": "old", "status": "ACTIVE"},
            {"campaignArn": "arn:c/new", "name": "new", "status": "CREATE IN_PROGRESS"},
        ]
    }
    conn.list_filters.return_value = {
        "Filters": [
            {"filterArn": "arn:f/tmp-1", "name": "tmp-1", "status": "ACTIVE"},
            {"filterArn": "arn:f/tmp-2", "name": "tmp-2", "status": "ACTIVE"},
            {"filterArn": "arn:f/prod", "name": "prod", "status": "ACTIVE"},
        ]
    }


def test_deletes_campaigns_outside_the_keep_list_and_prefixed_filters(conn):
    _leftovers(conn)
    report = PersonalizeDeleteResourcesOperator(
        dataset_group_arn=GROUP,
        keep_campaign_arns=["live"],
        filter_name_prefix="tmp-",
        keep_filter_arns=["arn:f/tmp-2"],
        **COMMON,
    ).execute({})
    assert report == {"deleted": ["arn:c/old", "arn:f/tmp-1"], "skipped_busy": ["arn:c/new"]}
    conn.delete_campaign.assert_called_once_with(campaignArn="arn:c/old")
    conn.delete_filter.assert_called_once_with(filterArn="arn:f/tmp-1")


def test_nothing_is_touched_unless_asked_for(conn):
    _leftovers(conn)
    assert PersonalizeDeleteResourcesOperator(dataset_group_arn=GROUP, **COMMON).execute({}) == {
        "deleted": [],
        "skipped_busy": [],
    }
    conn.list_campaigns.assert_not_called()
    conn.list_filters.assert_not_called()


def test_delete_dry_run_only_logs(conn):
    _leftovers(conn)
    report = PersonalizeDeleteResourcesOperator(
        dataset_group_arn=GROUP, keep_campaign_arns=[], filter_name_prefix="tmp-", dry_run=True, **COMMON
    ).execute({})
    assert report["deleted"] == ["arn:c/live", "arn:c/old", "arn:f/tmp-1", "arn:f/tmp-2"]
    conn.delete_campaign.assert_not_called()
    conn.delete_filter.assert_not_called()


def test_deleting_prefixed_filters_on_the_service_removes_only_those(dataset, aws_clients, wait_active):
    personalize = aws_clients("personalize")
    expression = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")'
    arns = {
        name: personalize.create_filter(
            name=f"{dataset.name}-{name}", datasetGroupArn=dataset.group, filterExpression=expression
        )["filterArn"]
        for name in ("tmp-1", "tmp-2", "prod")
    }
    for arn in arns.values():
        wait_active(personalize.describe_filter, "filter", filterArn=arn)

    report = PersonalizeDeleteResourcesOperator(
        task_id="t",
        dataset_group_arn=dataset.group,
        filter_name_prefix=f"{dataset.name}-tmp-",
        keep_filter_arns=[arns["tmp-2"]],
    ).execute({})

    assert report == {"deleted": [arns["tmp-1"]], "skipped_busy": []}
    left = {
        f["filterArn"]: f["status"]
        for f in personalize.list_filters(datasetGroupArn=dataset.group)["Filters"]
    }
    assert left.get(arns["tmp-1"]) in (None, "DELETE PENDING")
    assert (left[arns["tmp-2"]], left[arns["prod"]]) == ("ACTIVE", "ACTIVE")
