"""Sensors that wait for a Personalize job or deployment another task (or system) started."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, conf
from botocore.exceptions import ClientError

from personalize_provider.hooks.personalize import RESOURCE_KINDS, PersonalizeHook, ResourceKind
from personalize_provider.triggers.personalize import TRIGGERS_BY_KIND

if TYPE_CHECKING:
    from airflow.sdk import Context

_CREATING = ("CREATE PENDING", "CREATE IN_PROGRESS")


class PersonalizeBaseSensor(AwsBaseSensor[PersonalizeHook]):
    """
    Poke a Personalize resource until it is ACTIVE; fail at once on a failure state.

    Subclasses name the resource kind and its states (kept equal to ``RESOURCE_KINDS``
    and the waiters by a test). Deferrable: a resource not yet finished is waited on in
    the triggerer and the task resumes in :meth:`execute_complete`, which checks the event.

    :param resource_arn: ARN of the job or resource. (templated)
    :param deferrable: Wait in the triggerer. (default from ``[operators] default_deferrable``)
    :param max_retries: Checks in deferrable mode before giving up. (default 720)
    """

    aws_hook_class = PersonalizeHook
    kind_name: ClassVar[str]
    INTERMEDIATE_STATES: tuple[str, ...] = _CREATING
    FAILURE_STATES: tuple[str, ...] = ()
    SUCCESS_STATES: tuple[str, ...] = ("ACTIVE",)
    FAILURE_MESSAGE = ""
    template_fields: Sequence[str] = aws_template_fields("resource_arn")
    ui_color = "#66c3ff"

    def __init__(
        self,
        *,
        resource_arn: str,
        max_retries: int = 720,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.resource_arn, self.max_retries, self.deferrable = resource_arn, max_retries, deferrable

    @property
    def kind(self) -> ResourceKind:
        return RESOURCE_KINDS[self.kind_name]

    def get_state(self) -> str | None:
        self._description = self.hook.describe(self.kind, self.resource_arn)
        return self.kind.status_of(self._description)

    def poke(self, context: Context, **kwargs: Any) -> bool:
        state = self.get_state()
        if state in self.FAILURE_STATES:
            raise AirflowException(
                f"{self.FAILURE_MESSAGE} "
                f"{self.hook.failure_message(self.kind, self.resource_arn, self._description)}"
            )
        self.log.info("Personalize %s %s is %s.", self.kind.label, self.resource_arn, state)
        return state in self.SUCCESS_STATES

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context=context)
        if self.poke(context):  # finished already: nothing to defer
            return None
        self.defer(
            trigger=TRIGGERS_BY_KIND[self.kind_name](
                resource_arn=self.resource_arn,
                waiter_delay=int(self.poke_interval),
                waiter_max_attempts=self.max_retries,
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        validated = validate_execute_complete_event(event)
        if validated["status"] != "success":
            try:
                reason = self.hook.failure_message(self.kind, self.resource_arn)
            except ClientError:
                reason = f"Personalize {self.kind.label} {self.resource_arn} did not become ACTIVE"
            raise AirflowException(
                f"{self.FAILURE_MESSAGE} {reason} ({validated.get('message', 'no message')})"
            )
        self.log.info("Personalize %s %s is ACTIVE.", self.kind.label, self.resource_arn)


class PersonalizeDatasetImportJobSensor(PersonalizeBaseSensor):
    """Wait for a dataset import job to be ACTIVE (imported)."""

    kind_name = "dataset_import_job"
    FAILURE_STATES = ("CREATE FAILED", "DELETE PENDING", "DELETE IN_PROGRESS")
    FAILURE_MESSAGE = "Personalize dataset import job failed."


class PersonalizeSolutionVersionSensor(PersonalizeBaseSensor):
    """Wait for a solution version to finish training; a stopped training fails the sensor."""

    kind_name = "solution_version"
    FAILURE_STATES = ("CREATE FAILED", "CREATE STOPPING", "CREATE STOPPED")
    FAILURE_MESSAGE = "Personalize solution version training failed."


class PersonalizeCampaignSensor(PersonalizeBaseSensor):
    """Wait for a new campaign to be ACTIVE (deployed)."""

    kind_name = "campaign"
    FAILURE_STATES = ("CREATE FAILED", "DELETE PENDING", "DELETE IN_PROGRESS")
    FAILURE_MESSAGE = "Personalize campaign failed."


class PersonalizeCampaignUpdateSensor(PersonalizeBaseSensor):
    """Wait for a campaign's latest update (``latestCampaignUpdate``) to be ACTIVE."""

    kind_name = "campaign_update"
    FAILURE_STATES = ("CREATE FAILED",)
    FAILURE_MESSAGE = "Personalize campaign update failed."

    def get_state(self) -> str | None:
        # A campaign never updated has no latestCampaignUpdate: its own status is the answer.
        state = super().get_state()
        return state if state is not None else self._description["campaign"].get("status")


class PersonalizeBatchInferenceJobSensor(PersonalizeBaseSensor):
    """Wait for a batch inference job to be ACTIVE (its output written)."""

    kind_name = "batch_inference_job"
    FAILURE_STATES = ("CREATE FAILED",)
    FAILURE_MESSAGE = "Personalize batch inference job failed."


class PersonalizeBatchSegmentJobSensor(PersonalizeBaseSensor):
    """Wait for a batch segment job to be ACTIVE (its output written)."""

    kind_name = "batch_segment_job"
    FAILURE_STATES = ("CREATE FAILED",)
    FAILURE_MESSAGE = "Personalize batch segment job failed."


ALL_SENSORS = (
    PersonalizeDatasetImportJobSensor,
    PersonalizeSolutionVersionSensor,
    PersonalizeCampaignSensor,
    PersonalizeCampaignUpdateSensor,
    PersonalizeBatchInferenceJobSensor,
    PersonalizeBatchSegmentJobSensor,
)
