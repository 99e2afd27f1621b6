"""Sensors that wait for a Personalize job or deployment another task (or system) started."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, conf

from personalize_provider.hooks.personalize import RESOURCE_KINDS, PersonalizeHook, ResourceKind
from personalize_provider.triggers.personalize import trigger_for

if TYPE_CHECKING:
    from airflow.sdk import Context


class PersonalizeBaseSensor(AwsBaseSensor[PersonalizeHook]):
    """
    Poke a Personalize resource until it is ACTIVE; fail at once on a failure state.

    Subclasses name the resource kind; its ``SUCCESS_STATES``, ``FAILURE_STATES`` and
    ``INTERMEDIATE_STATES`` are read from ``RESOURCE_KINDS``. Deferrable: a resource not
    yet finished is waited on in the triggerer and the task resumes in
    :meth:`execute_complete`, which checks the event.

    :param resource_arn: ARN of the job or resource. (templated)
    :param deferrable: Wait in the triggerer. (default from ``[operators] default_deferrable``)
    :param max_retries: Checks in deferrable mode before giving up. (default 720)
    """

    aws_hook_class = PersonalizeHook
    kind_name: ClassVar[str]
    INTERMEDIATE_STATES: ClassVar[tuple[str, ...]]
    FAILURE_STATES: ClassVar[tuple[str, ...]]
    SUCCESS_STATES: ClassVar[tuple[str, ...]]
    FAILURE_MESSAGE: ClassVar[str] = ""
    template_fields: Sequence[str] = aws_template_fields("resource_arn")
    ui_color = "#66c3ff"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not hasattr(cls, "kind_name"):
            return
        kind = RESOURCE_KINDS[cls.kind_name]
        cls.INTERMEDIATE_STATES = tuple(sorted(kind.in_flight_states))
        cls.FAILURE_STATES = tuple(sorted(kind.failure_states))
        cls.SUCCESS_STATES = tuple(sorted(kind.active_states))
        cls.FAILURE_MESSAGE = cls.FAILURE_MESSAGE or f"Personalize {kind.label} failed."

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
            trigger=trigger_for(
                self.kind_name,
                self.resource_arn,
                self,
                waiter_delay=int(self.poke_interval),
                waiter_max_attempts=self.max_retries,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        arn = self.hook.arn_from_event(self.kind, event, prefix=f"{self.FAILURE_MESSAGE} ")
        self.log.info("Personalize %s %s is ACTIVE.", self.kind.label, arn)


class PersonalizeDatasetImportJobSensor(PersonalizeBaseSensor):
    """Wait for a dataset import job to be ACTIVE (imported)."""

    kind_name = "dataset_import_job"


class PersonalizeSolutionVersionSensor(PersonalizeBaseSensor):
    """Wait for a solution version to finish training; a stopped training fails the sensor."""

    kind_name = "solution_version"
    FAILURE_MESSAGE = "Personalize solution version training failed."


class PersonalizeCampaignSensor(PersonalizeBaseSensor):
    """Wait for a new campaign to be ACTIVE (deployed)."""

    kind_name = "campaign"


class PersonalizeCampaignUpdateSensor(PersonalizeBaseSensor):
    """Wait for a campaign's latest update (``latestCampaignUpdate``) to be ACTIVE."""

    kind_name = "campaign_update"

    def get_state(self) -> str | None:
        # A campaign never updated has no latestCampaignUpdate: its own status is the answer.
        state = super().get_state()
        return state if state is not None else self._description["campaign"].get("status")


class PersonalizeBatchInferenceJobSensor(PersonalizeBaseSensor):
    """Wait for a batch inference job to be ACTIVE (its output written)."""

    kind_name = "batch_inference_job"


class PersonalizeBatchSegmentJobSensor(PersonalizeBaseSensor):
    """Wait for a batch segment job to be ACTIVE (its output written)."""

    kind_name = "batch_segment_job"


ALL_SENSORS = (
    PersonalizeDatasetImportJobSensor,
    PersonalizeSolutionVersionSensor,
    PersonalizeCampaignSensor,
    PersonalizeCampaignUpdateSensor,
    PersonalizeBatchInferenceJobSensor,
    PersonalizeBatchSegmentJobSensor,
)
