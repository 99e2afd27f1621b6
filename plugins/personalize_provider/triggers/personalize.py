"""Triggers that wait on Personalize resources from the triggerer (no worker slot held)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger
from airflow.triggers.base import TriggerEvent
from botocore.exceptions import ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError

from personalize_provider.hooks.personalize import RESOURCE_KINDS, PersonalizeHook

# The endpoint did not answer at all (restarting, a network blip): worth another look, unlike a
# service error, which the waiter already turns into an event.
CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError)


class PersonalizeResourceTrigger(AwsBaseWaiterTrigger):
    """
    Wait until a Personalize resource is ACTIVE; emit an error event on a failure state.

    Subclasses only name the resource kind. Every constructor argument is in the
    signature, so ``serialize()`` rebuilds the trigger exactly in the triggerer.
    The event carries the resource ARN under ``resource_arn``. Up to ``max_connection_errors``
    failed connections in a row are waited out, so a restarting endpoint does not burn the
    task's retry (and, on retry, a new check of the same job).
    """

    aws_hook_class = PersonalizeHook
    kind_name: ClassVar[str]

    def __init__(
        self,
        *,
        resource_arn: str,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 720,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
        max_connection_errors: int = 10,
    ) -> None:
        self.max_connection_errors = max_connection_errors
        super().__init__(
            serialized_fields={"resource_arn": resource_arn, "max_connection_errors": max_connection_errors},
            **RESOURCE_KINDS[self.kind_name].waiter_arguments(resource_arn),
            return_key="resource_arn",
            return_value=resource_arn,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        failures = 0
        while True:
            try:
                async for event in super().run():
                    yield event
                return
            except CONNECTION_ERRORS as error:
                failures += 1
                if failures > self.max_connection_errors:
                    raise
                self.log.warning(
                    "Personalize endpoint unreachable (%s), %d of %d allowed; looking again in %d s",
                    error,
                    failures,
                    self.max_connection_errors,
                    self.waiter_delay,
                )
                await asyncio.sleep(self.waiter_delay)


class PersonalizeDatasetGroupActiveTrigger(PersonalizeResourceTrigger):
    kind_name = "dataset_group"


class PersonalizeDatasetActiveTrigger(PersonalizeResourceTrigger):
    kind_name = "dataset"


class PersonalizeDatasetImportJobCompleteTrigger(PersonalizeResourceTrigger):
    kind_name = "dataset_import_job"


class PersonalizeSolutionActiveTrigger(PersonalizeResourceTrigger):
    kind_name = "solution"


class PersonalizeSolutionVersionCompleteTrigger(PersonalizeResourceTrigger):
    kind_name = "solution_version"


class PersonalizeCampaignActiveTrigger(PersonalizeResourceTrigger):
    kind_name = "campaign"


class PersonalizeCampaignUpdateCompleteTrigger(PersonalizeResourceTrigger):
    kind_name = "campaign_update"


class PersonalizeFilterActiveTrigger(PersonalizeResourceTrigger):
    kind_name = "filter"


class PersonalizeEventTrackerActiveTrigger(PersonalizeResourceTrigger):
    kind_name = "event_tracker"


class PersonalizeBatchInferenceJobCompleteTrigger(PersonalizeResourceTrigger):
    kind_name = "batch_inference_job"


class PersonalizeBatchSegmentJobCompleteTrigger(PersonalizeResourceTrigger):
    kind_name = "batch_segment_job"


TRIGGERS_BY_KIND: dict[str, type[PersonalizeResourceTrigger]] = {
    cls.kind_name: cls
    for cls in (
        PersonalizeDatasetGroupActiveTrigger,
        PersonalizeDatasetActiveTrigger,
        PersonalizeDatasetImportJobCompleteTrigger,
        PersonalizeSolutionActiveTrigger,
        PersonalizeSolutionVersionCompleteTrigger,
        PersonalizeCampaignActiveTrigger,
        PersonalizeCampaignUpdateCompleteTrigger,
        PersonalizeFilterActiveTrigger,
        PersonalizeEventTrackerActiveTrigger,
        PersonalizeBatchInferenceJobCompleteTrigger,
        PersonalizeBatchSegmentJobCompleteTrigger,
    )
}


def trigger_for(
    kind_name: str, resource_arn: str, task: Any, *, waiter_delay: int, waiter_max_attempts: int
) -> PersonalizeResourceTrigger:
    """The trigger that waits on ``resource_arn`` with the deferring task's AWS connection settings."""
    return TRIGGERS_BY_KIND[kind_name](
        resource_arn=resource_arn,
        waiter_delay=waiter_delay,
        waiter_max_attempts=waiter_max_attempts,
        aws_conn_id=task.aws_conn_id,
        region_name=task.region_name,
        verify=task.verify,
        botocore_config=task.botocore_config,
    )
