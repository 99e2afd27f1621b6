"""Hook for Amazon Personalize: control plane, runtime and events clients."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook


@dataclass(frozen=True)
class ResourceKind:
    """How one Personalize resource type is described, listed and waited on."""

    label: str  # human words, e.g. "dataset import job"
    describe: str  # boto3 method name
    arn_param: str  # request key of the describe call, e.g. "datasetImportJobArn"
    response_key: str  # top-level key of the describe response
    waiter: str  # name in waiters/personalize.json
    status_path: tuple[str, ...] = ("status",)
    active_states: frozenset[str] = frozenset({"ACTIVE"})
    failure_states: frozenset[str] = frozenset({"CREATE FAILED", "DELETE PENDING", "DELETE IN_PROGRESS"})

    def status_of(self, description: dict[str, Any]) -> str | None:
        node: Any = description[self.response_key]
        for key in self.status_path:
            node = (node or {}).get(key)
        return node

    def failure_reason_of(self, description: dict[str, Any]) -> str:
        node = description[self.response_key]
        if len(self.status_path) > 1:
            node = node.get(self.status_path[0]) or {}
        return node.get("failureReason") or "no failureReason given"


RESOURCE_KINDS: dict[str, ResourceKind] = {
    kind.waiter.removesuffix("_active"): kind
    for kind in (
        ResourceKind(
            "dataset group",
            "describe_dataset_group",
            "datasetGroupArn",
            "datasetGroup",
            "dataset_group_active",
        ),
        ResourceKind("dataset", "describe_dataset", "datasetArn", "dataset", "dataset_active"),
        ResourceKind(
            "dataset import job",
            "describe_dataset_import_job",
            "datasetImportJobArn",
            "datasetImportJob",
            "dataset_import_job_active",
        ),
        ResourceKind("solution", "describe_solution", "solutionArn", "solution", "solution_active"),
        ResourceKind(
            "solution version",
            "describe_solution_version",
            "solutionVersionArn",
            "solutionVersion",
            "solution_version_active",
            failure_states=frozenset({"CREATE FAILED", "CREATE STOPPING", "CREATE STOPPED"}),
        ),
        ResourceKind("campaign", "describe_campaign", "campaignArn", "campaign", "campaign_active"),
        ResourceKind(
            "campaign update",
            "describe_campaign",
            "campaignArn",
            "campaign",
            "campaign_update_active",
            status_path=("latestCampaignUpdate", "status"),
            failure_states=frozenset({"CREATE FAILED"}),
        ),
        ResourceKind("filter", "describe_filter", "filterArn", "filter", "filter_active"),
        ResourceKind(
            "event tracker",
            "describe_event_tracker",
            "eventTrackerArn",
            "eventTracker",
            "event_tracker_active",
        ),
        ResourceKind(
            "batch inference job",
            "describe_batch_inference_job",
            "batchInferenceJobArn",
            "batchInferenceJob",
            "batch_inference_job_active",
            failure_states=frozenset({"CREATE FAILED"}),
        ),
        ResourceKind(
            "batch segment job",
            "describe_batch_segment_job",
            "batchSegmentJobArn",
            "batchSegmentJob",
            "batch_segment_job_active",
            failure_states=frozenset({"CREATE FAILED"}),
        ),
    )
}


class PersonalizeHook(AwsBaseHook):
    """
    Interact with Amazon Personalize.

    A thin wrapper over ``boto3.client("personalize")`` (``self.conn``) that adds
    the custom waiters of ``waiters/personalize.json`` and the runtime and events
    clients, built from the same connection (endpoint, region, credentials).
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs["client_type"] = "personalize"
        super().__init__(*args, **kwargs)

    @cached_property
    def waiter_path(self) -> Path:
        # The provider only looks for waiter files inside its own package.
        return Path(__file__).parents[1] / "waiters" / "personalize.json"

    def _client_for(self, service_name: str):
        session = self.get_session(region_name=self.region_name)
        return session.client(
            service_name,
            endpoint_url=self.conn_config.get_service_endpoint_url(service_name=service_name)
            or self.conn_config.get_service_endpoint_url(service_name="personalize"),
            config=self._get_config(self.config),
            verify=self.verify,
        )

    @cached_property
    def runtime_client(self):
        """``personalize-runtime`` client (GetRecommendations, GetPersonalizedRanking)."""
        return self._client_for("personalize-runtime")

    @cached_property
    def events_client(self):
        """``personalize-events`` client (PutEvents, PutItems, PutUsers)."""
        return self._client_for("personalize-events")

    def describe(self, kind: ResourceKind, arn: str) -> dict[str, Any]:
        return getattr(self.conn, kind.describe)(**{kind.arn_param: arn})

    def failure_message(self, kind: ResourceKind, arn: str, description: dict[str, Any] | None = None) -> str:
        """What a failed task should say: the ARN, the status and the service's failureReason."""
        description = description or self.describe(kind, arn)
        return (
            f"Personalize {kind.label} {arn} ended in status "
            f"{kind.status_of(description)!r}: {kind.failure_reason_of(description)}"
        )

    def iter_list(self, method: str, result_key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Yield every summary of a List* call, following nextToken."""
        token = None
        while True:
            page = getattr(self.conn, method)(**kwargs, **({"nextToken": token} if token else {}))
            yield from page.get(result_key, [])
            token = page.get("nextToken")
            if not token:
                return

    def find_arn_by_name(
        self, method: str, result_key: str, arn_key: str, name: str, **scope: Any
    ) -> str | None:
        """ARN of the listed resource called ``name`` (names are unique per type), or None."""
        return next(
            (r[arn_key] for r in self.iter_list(method, result_key, **scope) if r["name"] == name), None
        )
