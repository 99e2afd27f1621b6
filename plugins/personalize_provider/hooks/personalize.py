"""Hook for Amazon Personalize, and the one table of its resource kinds and their states."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.common.compat.sdk import AirflowException
from botocore.exceptions import ClientError

from personalize_provider.naming import generation_of

CREATING = frozenset({"CREATE PENDING", "CREATE IN_PROGRESS"})
DELETING = frozenset({"DELETE PENDING", "DELETE IN_PROGRESS"})
CREATE_FAILED = "CREATE FAILED"


@dataclass(frozen=True)
class ResourceKind:
    """
    How one Personalize resource type is described, listed and waited on.

    Its states are declared here and nowhere else: the waiters JSON is tested
    against them, and sensors, triggers, operators and cleanup read them.
    """

    label: str  # human words, e.g. "dataset import job"
    describe: str  # boto3 method name
    arn_param: str  # request key of the describe call, e.g. "datasetImportJobArn"
    response_key: str  # top-level key of the describe response
    list_method: str  # paginated List* call, e.g. "list_dataset_import_jobs"
    list_key: str  # where that call's summaries are, e.g. "datasetImportJobs"
    waiter: str | None = None  # name in waiters/personalize.json; None: the resource has no status
    status_path: tuple[str, ...] = ("status",)
    active_states: frozenset[str] = frozenset({"ACTIVE"})
    failure_states: frozenset[str] = frozenset({CREATE_FAILED}) | DELETING
    in_flight_states: frozenset[str] = CREATING
    summaries_named: bool = True  # False: summaries carry no name, describe each to learn it

    @property
    def settled_states(self) -> frozenset[str]:
        """Neither being created nor being deleted: states in which a delete may be asked for."""
        return (self.active_states | self.failure_states) - DELETING

    @property
    def status_query(self) -> str:
        """JMESPath of the status in the describe response (what the waiter's acceptors read)."""
        return ".".join((self.response_key, *self.status_path))

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

    def waiter_arguments(self, arn: str) -> dict[str, Any]:
        """What a waiter on ``arn`` needs, sync or in a trigger: its name, request and messages."""
        status_root = self.status_query.rpartition(".")[0]
        return {
            "waiter_name": self.waiter,
            "waiter_args": {self.arn_param: arn},
            "failure_message": f"Personalize {self.label} {arn} failed",
            "status_message": f"Personalize {self.label} {arn} status",
            "status_queries": [f"{status_root}.status", f"{status_root}.failureReason"],
        }


def _kind(label: str, name: str, *, plural: str = "", waited: bool = True, **kwargs: Any) -> ResourceKind:
    """``_kind("dataset import job", "dataset_import_job")``: names follow the API's pattern."""
    camel = name.split("_")[0] + "".join(word.title() for word in name.split("_")[1:])
    return ResourceKind(
        label=label,
        describe=f"describe_{name}",
        arn_param=f"{camel}Arn",
        response_key=camel,
        list_method=f"list_{name}s",
        list_key=plural or f"{camel}s",
        waiter=f"{name}_active" if waited else None,
        **kwargs,
    )


# Resources with a status the provider waits on, keyed by their waiter's stem.
RESOURCE_KINDS: dict[str, ResourceKind] = {
    kind.waiter.removesuffix("_active"): kind
    for kind in (
        _kind("dataset group", "dataset_group"),
        _kind("dataset", "dataset"),
        _kind("dataset import job", "dataset_import_job"),
        _kind("solution", "solution"),
        _kind(
            "solution version",
            "solution_version",
            failure_states=frozenset({CREATE_FAILED, "CREATE STOPPING", "CREATE STOPPED"}),
            summaries_named=False,
        ),
        _kind("campaign", "campaign"),
        ResourceKind(
            label="campaign update",
            describe="describe_campaign",
            arn_param="campaignArn",
            response_key="campaign",
            list_method="list_campaigns",
            list_key="campaigns",
            waiter="campaign_update_active",
            status_path=("latestCampaignUpdate", "status"),
            failure_states=frozenset({CREATE_FAILED}),
        ),
        _kind("filter", "filter", plural="Filters"),
        _kind("event tracker", "event_tracker"),
        _kind("batch inference job", "batch_inference_job", failure_states=frozenset({CREATE_FAILED})),
        _kind("batch segment job", "batch_segment_job", failure_states=frozenset({CREATE_FAILED})),
    )
}

# A schema has no status: it is usable once created, so nothing waits on it.
SCHEMA_KIND = _kind(
    "schema",
    "schema",
    waited=False,
    status_path=(),
    active_states=frozenset(),
    failure_states=frozenset(),
    in_flight_states=frozenset(),
)

KINDS: dict[str, ResourceKind] = {**RESOURCE_KINDS, "schema": SCHEMA_KIND}


class PersonalizeHook(AwsBaseHook):
    """
    Interact with Amazon Personalize.

    A thin wrapper over ``boto3.client("personalize")`` (``self.conn``) that adds
    the custom waiters of ``waiters/personalize.json``, paginated listing, and the
    events client, built from the same connection (endpoint, region, credentials).
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs["client_type"] = "personalize"
        super().__init__(*args, **kwargs)

    @cached_property
    def waiter_path(self) -> Path:
        # The provider only looks for waiter files inside its own package.
        return Path(__file__).parents[1] / "waiters" / "personalize.json"

    @cached_property
    def events_client(self):
        """``personalize-events`` client (PutEvents, PutItems, PutUsers)."""
        session = self.get_session(region_name=self.region_name)
        return session.client(
            "personalize-events",
            endpoint_url=self.conn_config.get_service_endpoint_url(service_name="personalize-events")
            or self.conn_config.get_service_endpoint_url(service_name="personalize"),
            config=self._get_config(self.config),
            verify=self.verify,
        )

    def describe(self, kind: ResourceKind, arn: str) -> dict[str, Any]:
        return getattr(self.conn, kind.describe)(**{kind.arn_param: arn})

    def failure_message(self, kind: ResourceKind, arn: str, description: dict[str, Any] | None = None) -> str:
        """What a failed task should say: the ARN, the status and the service's failureReason."""
        description = description or self.describe(kind, arn)
        return (
            f"Personalize {kind.label} {arn} ended in status "
            f"{kind.status_of(description)!r}: {kind.failure_reason_of(description)}"
        )

    def arn_from_event(self, kind: ResourceKind, event: dict[str, Any] | None, prefix: str = "") -> str:
        """The ARN a trigger's event reports; raise with the service's reason when it failed."""
        validated = validate_execute_complete_event(event)
        arn = validated["resource_arn"]
        if validated["status"] != "success":
            try:
                reason = self.failure_message(kind, arn)
            except ClientError:
                reason = f"Personalize {kind.label} {arn} did not become ACTIVE"
            raise AirflowException(f"{prefix}{reason} ({validated.get('message', 'no message')})")
        return arn

    def iter_list(self, method: str, result_key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Yield every summary of a List* call, page by page, through botocore's paginator."""
        for page in self.conn.get_paginator(method).paginate(**kwargs):
            yield from page.get(result_key, [])

    def list_resources(self, kind: ResourceKind, **scope: Any) -> Iterator[dict[str, Any]]:
        return self.iter_list(kind.list_method, kind.list_key, **scope)

    def find_arn(
        self, kind: ResourceKind, matches: Callable[[dict[str, Any]], bool], **scope: Any
    ) -> str | None:
        """ARN of the first listed resource of this kind that ``matches``, or None."""
        return next((r[kind.arn_param] for r in self.list_resources(kind, **scope) if matches(r)), None)

    def find_arn_by_name(
        self, method: str, result_key: str, arn_key: str, name: str, **scope: Any
    ) -> str | None:
        """ARN of the listed resource called ``name`` (names are unique per type), or None."""
        return next(
            (r[arn_key] for r in self.iter_list(method, result_key, **scope) if r["name"] == name), None
        )

    def find_job(
        self, kind: ResourceKind, base_name: str, **scope: Any
    ) -> tuple[str, str | None, int] | None:
        """Newest generation (``naming.retry_name``) of a job or version: ``(arn, status, generation)``."""
        best = None
        for summary in self.list_resources(kind, **scope):
            if not kind.summaries_named:
                summary = self.describe(kind, summary[kind.arn_param])[kind.response_key]
            generation = generation_of(base_name, summary.get("jobName") or summary.get("name") or "")
            if generation is not None and (best is None or generation > best[2]):
                best = (summary[kind.arn_param], summary.get("status"), generation)
        return best
