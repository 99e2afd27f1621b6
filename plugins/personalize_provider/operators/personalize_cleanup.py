"""
Cleanup of Personalize leftovers that cost money or clutter a dataset group.

Both operators apply a retention policy and return a report dict (XCom). With
``dry_run=True`` they only log what they would do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from personalize_provider.hooks.personalize import RESOURCE_KINDS, PersonalizeHook, ResourceKind

if TYPE_CHECKING:
    from airflow.sdk import Context


def as_bool(value: bool | str) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


VERSION, SOLUTION = RESOURCE_KINDS["solution_version"], RESOURCE_KINDS["solution"]
CAMPAIGN, FILTER = RESOURCE_KINDS["campaign"], RESOURCE_KINDS["filter"]


class PersonalizeCleanupSolutionVersionsOperator(AwsBaseOperator[PersonalizeHook]):
    """
    Apply a retention policy to a solution's versions: stop stray trainings, report the rest.

    Personalize has no API to delete a solution version (only the whole solution,
    and only when no campaign uses it), and a finished version costs nothing while
    it is not deployed. What does cost money is training: so this operator stops
    (StopSolutionVersionCreation) every version still in CREATE PENDING/IN_PROGRESS
    that is not the newest version of the solution, and reports the ACTIVE versions
    beyond retention — it deletes nothing.

    Kept: the newest ``keep_newest`` ACTIVE versions and any version that a campaign
    serves or is being updated to.

    :param solution_arn: The solution. (templated)
    :param keep_newest: ACTIVE versions to keep. (default 2)
    :param dry_run: Only log what would be stopped.
    :return: ``{"kept": [...], "stopped": [...], "beyond_retention": [...]}`` (ARNs).
    """

    aws_hook_class = PersonalizeHook
    template_fields: Sequence[str] = aws_template_fields("solution_arn", "keep_newest", "dry_run")

    def __init__(
        self, *, solution_arn: str, keep_newest: int = 2, dry_run: bool | str = False, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.solution_arn, self.keep_newest, self.dry_run = solution_arn, keep_newest, dry_run

    def execute(self, context: Context) -> dict[str, list[str]]:
        # A templated value ("{{ params.dry_run }}") renders as text.
        self.dry_run = as_bool(self.dry_run)
        versions = sorted(
            self.hook.list_resources(VERSION, solutionArn=self.solution_arn),
            key=lambda v: v["creationDateTime"],
            reverse=True,
        )
        in_use = campaign_versions(self.hook, self.solution_arn)
        active = [v["solutionVersionArn"] for v in versions if v["status"] in VERSION.active_states]
        kept = [arn for arn in active if arn in in_use or arn in active[: int(self.keep_newest)]]
        stray = [
            v["solutionVersionArn"]
            for v in versions[1:]
            if v["status"] in VERSION.in_flight_states and v["solutionVersionArn"] not in in_use
        ]
        for arn in stray:
            if self.dry_run:
                self.log.info("Dry run: would stop training %s.", arn)
            else:
                self.log.info("Stopping training %s (not the newest version).", arn)
                self.hook.conn.stop_solution_version_creation(solutionVersionArn=arn)
        beyond = [arn for arn in active if arn not in kept]
        if beyond:
            self.log.info(
                "%d ACTIVE version(s) beyond retention (Personalize cannot delete versions): %s",
                len(beyond),
                ", ".join(beyond),
            )
        return {"kept": kept, "stopped": stray, "beyond_retention": beyond}


class PersonalizeDeleteResourcesOperator(AwsBaseOperator[PersonalizeHook]):
    """
    Delete a dataset group's campaigns outside a keep list, and its filters with a name prefix.

    A campaign bills for its provisioned TPS every hour it exists, so stale ones are the
    leftovers worth deleting. Nothing is touched unless asked for: ``keep_campaign_arns=None``
    leaves campaigns alone (``[]`` deletes them all), ``filter_name_prefix=None`` leaves filters.
    Resources in a busy state (being created or updated) are skipped and reported.

    :param dataset_group_arn: The dataset group. (templated)
    :param keep_campaign_arns: Campaigns to keep, by ARN or name. (templated)
    :param filter_name_prefix: Delete filters whose name starts with this. (templated)
    :param keep_filter_arns: Filters to keep although they match the prefix. (templated)
    :param dry_run: Only log what would be deleted.
    :return: ``{"deleted": [...], "skipped_busy": [...]}`` (ARNs).
    """

    aws_hook_class = PersonalizeHook
    template_fields: Sequence[str] = aws_template_fields(
        "dataset_group_arn", "keep_campaign_arns", "filter_name_prefix", "keep_filter_arns"
    )

    def __init__(
        self,
        *,
        dataset_group_arn: str,
        keep_campaign_arns: Sequence[str] | None = None,
        filter_name_prefix: str | None = None,
        keep_filter_arns: Sequence[str] = (),
        dry_run: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset_group_arn, self.keep_campaign_arns = dataset_group_arn, keep_campaign_arns
        self.filter_name_prefix, self.keep_filter_arns = filter_name_prefix, keep_filter_arns
        self.dry_run = dry_run

    def execute(self, context: Context) -> dict[str, list[str]]:
        doomed: list[tuple[ResourceKind, str, str]] = []  # (kind, arn, status)
        if self.keep_campaign_arns is not None:
            keep = set(self.keep_campaign_arns)
            for solution in self.hook.list_resources(SOLUTION, datasetGroupArn=self.dataset_group_arn):
                for campaign in self.hook.list_resources(CAMPAIGN, solutionArn=solution["solutionArn"]):
                    if not keep & {campaign["campaignArn"], campaign["name"]}:
                        doomed.append((CAMPAIGN, campaign["campaignArn"], campaign["status"]))
        if self.filter_name_prefix:
            for item in self.hook.list_resources(FILTER, datasetGroupArn=self.dataset_group_arn):
                if item["name"].startswith(self.filter_name_prefix) and item["filterArn"] not in set(
                    self.keep_filter_arns
                ):
                    doomed.append((FILTER, item["filterArn"], item["status"]))
        deleted, busy = [], []
        for kind, arn, status in doomed:
            if status not in kind.settled_states:
                self.log.warning("Skipping %s %s in status %s.", kind.label, arn, status)
                busy.append(arn)
            elif self.dry_run:
                self.log.info("Dry run: would delete %s %s.", kind.label, arn)
                deleted.append(arn)
            else:
                self.log.info("Deleting %s %s.", kind.label, arn)
                if kind is CAMPAIGN:
                    self.hook.conn.delete_campaign(campaignArn=arn)
                else:
                    self.hook.conn.delete_filter(filterArn=arn)
                deleted.append(arn)
        return {"deleted": deleted, "skipped_busy": busy}


def campaign_versions(hook: PersonalizeHook, solution_arn: str) -> set[str]:
    """Versions of the solution that a campaign serves or is being moved to."""
    used = set()
    for summary in hook.list_resources(CAMPAIGN, solutionArn=solution_arn):
        campaign = hook.describe(CAMPAIGN, summary["campaignArn"])["campaign"]
        used.add(campaign.get("solutionVersionArn"))
        used.add((campaign.get("latestCampaignUpdate") or {}).get("solutionVersionArn"))
    return used - {None}
