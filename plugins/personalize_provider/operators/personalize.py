"""
Operators for Amazon Personalize.

Every operator is safe to retry: names are given (resources) or derived from the
task instance (jobs), existing resources with the same name are described and
adopted when they match what the task asks for, an in-flight job is waited on
instead of started again, and a finished one returns at once. Each returns the
ARN it created or adopted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import jinja2.nativetypes
from airflow.providers.amazon.aws.exceptions import WaiterTerminalFailure
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.amazon.aws.utils.waiter_with_logging import wait
from airflow.providers.common.compat.sdk import AirflowException, conf
from botocore.exceptions import ClientError

from personalize_provider.hooks.personalize import KINDS, RESOURCE_KINDS, PersonalizeHook, ResourceKind
from personalize_provider.links.personalize import (
    PersonalizeBatchInferenceJobLink,
    PersonalizeBatchSegmentJobLink,
    PersonalizeCampaignLink,
    PersonalizeDatasetGroupLink,
    PersonalizeDatasetImportJobLink,
    PersonalizeDatasetLink,
    PersonalizeEventTrackerLink,
    PersonalizeFilterLink,
    PersonalizeSchemaLink,
    PersonalizeSolutionLink,
    PersonalizeSolutionVersionLink,
)
from personalize_provider.naming import retry_name, run_scoped_name, validate_name
from personalize_provider.triggers.personalize import trigger_for

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.links.base_aws import BaseAwsLink
    from airflow.sdk import Context

MAX_JOB_GENERATIONS = 20


class PersonalizeResourceMismatchError(AirflowException):
    """An existing resource has the task's name but not its settings; adopting it would be wrong."""


class PersonalizeBaseOperator(AwsBaseOperator[PersonalizeHook]):
    """
    Shared behaviour: create or adopt retry-safely, wait (sync, deferred or not at all), fail with the reason.

    This class is the one place that handles a concurrent creator (ResourceAlreadyExists),
    compares an adopted resource with the request, and resumes a run-scoped job.

    :param wait_for_completion: Wait until the resource is ACTIVE. (default: True)
    :param waiter_delay: Seconds between status checks, an int, or a template such as
        ``{{ params.poll_seconds }}`` that renders to one. It alone is rendered as a native object
        (the other fields keep Airflow's text rendering, which leaves e.g. a schema's "1.0" a string).
    :param waiter_max_attempts: Status checks before giving up.
    :param deferrable: Wait in the triggerer instead of a worker slot.
        (default from ``[operators] default_deferrable``)
    """

    aws_hook_class = PersonalizeHook
    kind_name: ClassVar[str]
    default_waiter_delay: ClassVar[int] = 30
    default_waiter_max_attempts: ClassVar[int] = 240

    def __init__(
        self,
        *,
        wait_for_completion: bool = True,
        waiter_delay: int | None = None,
        waiter_max_attempts: int | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.waiter_delay: int = self.default_waiter_delay if waiter_delay is None else waiter_delay
        self.waiter_max_attempts: int = (
            self.default_waiter_max_attempts if waiter_max_attempts is None else waiter_max_attempts
        )
        self.deferrable = deferrable

    @property
    def kind(self) -> ResourceKind:
        return KINDS[self.kind_name]

    def pre_execute(self, context: Context) -> None:
        """Runs for mapped and plain tasks alike, after their templates and before any create call."""
        super().pre_execute(context)
        self.render_waiter_delay(context)
        self.check_waiter_delay()

    def render_waiter_delay(self, context: Context) -> None:
        """A templated delay becomes the int the run's params hold, never its text."""
        if isinstance(self.waiter_delay, str) and "{{" in self.waiter_delay:
            template = jinja2.nativetypes.NativeEnvironment().from_string(self.waiter_delay)
            self.waiter_delay = template.render(**context)

    def check_waiter_delay(self) -> None:
        if not isinstance(self.waiter_delay, int) or isinstance(self.waiter_delay, bool):
            raise TypeError(
                f"{self.task_id}: waiter_delay must be an int, got {self.waiter_delay!r}; a template "
                "must render to one, e.g. {{ params.poll_seconds }} with an integer param"
            )

    # -- waiting -----------------------------------------------------------------------------

    def wait_until_active(self, context: Context, arn: str, kind_name: str = "") -> str:
        """
        Return at once if finished, raise if failed, else wait as configured.

        ``kind_name`` waits on another kind than the operator's own (a campaign's update).
        """
        kind_name = kind_name or self.kind_name
        kind = RESOURCE_KINDS[kind_name]
        self.check_waiter_delay()
        description = self.hook.describe(kind, arn)
        status = kind.status_of(description)
        if status in kind.active_states:
            self.log.info("Personalize %s %s is %s.", kind.label, arn, status)
            return arn
        if status in kind.failure_states:
            raise AirflowException(self.hook.failure_message(kind, arn, description))
        if not self.wait_for_completion:
            self.log.info("Not waiting for %s %s (status %s).", kind.label, arn, status)
            return arn
        if self.deferrable:
            self.log.info("Deferring until %s %s is ACTIVE (now %s).", kind.label, arn, status)
            self.defer(
                trigger=trigger_for(
                    kind_name,
                    arn,
                    self,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                ),
                method_name="execute_complete",
                kwargs={"kind_name": kind_name},
            )
        waiter = kind.waiter_arguments(arn)
        try:
            wait(
                waiter=self.hook.get_waiter(waiter["waiter_name"]),
                waiter_delay=self.waiter_delay,
                waiter_max_attempts=self.waiter_max_attempts,
                args=waiter["waiter_args"],
                failure_message=waiter["failure_message"],
                status_message=waiter["status_message"],
                status_args=waiter["status_queries"],
            )
        except WaiterTerminalFailure:
            raise AirflowException(self.hook.failure_message(kind, arn)) from None
        return arn

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, kind_name: str = ""
    ) -> str:
        kind = RESOURCE_KINDS[kind_name or self.kind_name]
        arn = self.hook.arn_from_event(kind, event)
        self.log.info("Personalize %s %s is ACTIVE.", kind.label, arn)
        return arn

    # -- creating or adopting ----------------------------------------------------------------

    def check_matches(self, arn: str, expected: dict[str, Any]) -> None:
        """Fail when an existing resource of our name was made with other settings."""
        resource = self.hook.describe(self.kind, arn)[self.kind.response_key]
        differences = []
        for path, wanted in expected.items():
            node: Any = resource
            for key in path.split("."):
                node = node.get(key) if isinstance(node, dict) else None
            if wanted is not None and _normalise(node) != _normalise(wanted):
                differences.append(f"{path}: existing {node!r}, requested {wanted!r}")
        if differences:
            raise PersonalizeResourceMismatchError(
                f"Personalize {self.kind.label} {arn} already exists with other fields ("
                + "; ".join(differences)
                + "). Give this task a new name, or delete the existing resource."
            )

    def create_or_find(
        self, *, find: Callable[[], str | None], create: Callable[[], str]
    ) -> tuple[str, bool]:
        """``(arn, True)`` when we created it; ``(arn, False)`` when a concurrent attempt did first."""
        try:
            return create(), True
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise
            arn = find()
            if arn is None:
                raise
            self.log.info("Another attempt created Personalize %s %s first.", self.kind.label, arn)
            return arn, False

    def create_or_adopt(
        self, *, find: Callable[[], str | None], create: Callable[[], str], expected: dict[str, Any]
    ) -> str:
        """Adopt the resource ``find`` returns when it is what ``expected`` asks for, else create it."""
        arn = find()
        if arn is None:
            arn, created = self.create_or_find(find=find, create=create)
            if created:
                self.log.info("Created Personalize %s %s.", self.kind.label, arn)
                return arn
        self.check_matches(arn, expected)
        self.log.info("Adopted existing Personalize %s %s.", self.kind.label, arn)
        return arn

    def find_by_name(self, name: str, **scope: Any) -> str | None:
        return self.hook.find_arn(self.kind, lambda summary: summary["name"] == name, **scope)

    def start_or_resume_job(
        self,
        *,
        base_name: str,
        scope: dict[str, Any],
        create: Callable[[str], str],
        expected: dict[str, Any],
    ) -> str:
        """
        Reconnect to this task instance's job (listed under ``scope``), or start it.

        A job of ours that is in flight or finished is adopted (never a second paid
        job); after a failed one a retry starts the next generation ``<name>-rN``.
        """
        found = self.hook.find_job(self.kind, base_name, **scope)
        generation = 1
        if found is not None:
            arn, status, generation = found
            if status not in self.kind.failure_states:
                self.check_matches(arn, expected)
                self.log.info("Reconnecting to Personalize %s %s (status %s).", self.kind.label, arn, status)
                return arn
            self.log.warning("Earlier attempt %s ended %s; starting a new job.", arn, status)
            generation += 1
        if generation > MAX_JOB_GENERATIONS:
            raise AirflowException(f"{MAX_JOB_GENERATIONS} attempts of {base_name} failed; giving up.")
        name = retry_name(base_name, generation)
        arn, created = self.create_or_find(
            find=lambda: (self.hook.find_job(self.kind, base_name, **scope) or (None,))[0],
            create=lambda: create(name),
        )
        if created:
            self.log.info("Started Personalize %s %s.", self.kind.label, arn)
        else:
            self.check_matches(arn, expected)
        return arn

    # -- console links -----------------------------------------------------------------------

    def dataset_group_of_version(self, solution_version_arn: str) -> str:
        """The console addresses resources under their group; an empty link beats a failed task."""
        try:
            version = self.hook.describe(RESOURCE_KINDS["solution_version"], solution_version_arn)
        except ClientError:
            return ""
        return version["solutionVersion"].get("datasetGroupArn", "")

    def persist_link(
        self, context: Context, link: type[BaseAwsLink], arn: str, dataset_group_arn: str = ""
    ) -> None:
        link.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            arn=arn,
            dataset_group_arn=dataset_group_arn,
        )


def _normalise(value: Any) -> Any:
    """Compare JSON strings (schemas, configs) by content rather than by formatting."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return parsed if isinstance(parsed, dict | list) else value
    return value


def _dataset_group_of(arn: str) -> str:
    """``…:dataset/<group>/<TYPE>`` → ``…:dataset-group/<group>``."""
    prefix, _, rest = arn.partition(":dataset/")
    return f"{prefix}:dataset-group/{rest.split('/')[0]}" if rest else ""


# -- resources that are created once and reused ------------------------------------------------


class PersonalizeCreateDatasetGroupOperator(PersonalizeBaseOperator):
    """
    Create a dataset group, or adopt the one with this name.

    :param name: Dataset group name. (templated)
    :param role_arn: IAM role for a KMS-encrypted group. (templated)
    :param kms_key_arn: KMS key to encrypt the group's data. (templated)
    :param domain: ``ECOMMERCE`` or ``VIDEO_ON_DEMAND`` for a domain group; None for custom.
    :param tags: Tags for the new group.
    """

    kind_name = "dataset_group"
    default_waiter_delay = 10
    default_waiter_max_attempts = 60
    template_fields: Sequence[str] = aws_template_fields("name", "role_arn", "kms_key_arn", "domain")
    operator_extra_links = (PersonalizeDatasetGroupLink(),)

    def __init__(
        self,
        *,
        name: str,
        role_arn: str | None = None,
        kms_key_arn: str | None = None,
        domain: str | None = None,
        tags: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name, self.role_arn, self.kms_key_arn, self.domain = name, role_arn, kms_key_arn, domain
        self.tags = tags or {}

    def execute(self, context: Context) -> str:
        validate_name(self.name, "Dataset group name")
        params = {
            "name": self.name,
            "roleArn": self.role_arn,
            "kmsKeyArn": self.kms_key_arn,
            "domain": self.domain,
        }
        params = {k: v for k, v in params.items() if v}

        arn = self.create_or_adopt(
            find=lambda: self.find_by_name(self.name),
            create=lambda: self.hook.conn.create_dataset_group(**params, **_tags(self.tags))[
                "datasetGroupArn"
            ],
            expected={"domain": self.domain, "kmsKeyArn": self.kms_key_arn},
        )
        self.persist_link(context, PersonalizeDatasetGroupLink, arn, arn)
        return self.wait_until_active(context, arn)


class PersonalizeCreateSchemaOperator(PersonalizeBaseOperator):
    """
    Create a schema, or adopt the one with this name when its fields are the same.

    Schemas cannot change: give a changed schema a new name (e.g. with a version suffix).

    :param name: Schema name. (templated)
    :param schema: Avro schema as a dict or JSON string. (templated)
    :param domain: Domain of a domain dataset group, None for custom.
    """

    kind_name = "schema"  # a schema has no status: nothing is waited on
    template_fields: Sequence[str] = aws_template_fields("name", "schema")
    template_fields_renderers = {"schema": "json"}
    operator_extra_links = (PersonalizeSchemaLink(),)

    def __init__(self, *, name: str, schema: dict | str, domain: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name, self.schema, self.domain = name, schema, domain

    def execute(self, context: Context) -> str:
        validate_name(self.name, "Schema name")
        schema_json = self.schema if isinstance(self.schema, str) else json.dumps(self.schema)

        params = {"name": self.name, "schema": schema_json}
        if self.domain:
            params["domain"] = self.domain
        arn = self.create_or_adopt(
            find=lambda: self.find_by_name(self.name),
            create=lambda: self.hook.conn.create_schema(**params)["schemaArn"],
            expected={"schema": schema_json, "domain": self.domain},
        )
        self.persist_link(context, PersonalizeSchemaLink, arn)
        return arn


class PersonalizeCreateDatasetOperator(PersonalizeBaseOperator):
    """
    Create the dataset of one type in a dataset group, or adopt it.

    :param name: Dataset name. (templated)
    :param dataset_group_arn: The dataset group. (templated)
    :param dataset_type: INTERACTIONS, ITEMS, USERS, ACTIONS or ACTION_INTERACTIONS. (templated)
    :param schema_arn: The dataset's schema. (templated)
    """

    kind_name = "dataset"
    default_waiter_delay = 10
    default_waiter_max_attempts = 60
    template_fields: Sequence[str] = aws_template_fields(
        "name", "dataset_group_arn", "dataset_type", "schema_arn"
    )
    operator_extra_links = (PersonalizeDatasetLink(),)

    def __init__(
        self,
        *,
        name: str,
        dataset_group_arn: str,
        dataset_type: str,
        schema_arn: str,
        tags: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name, self.dataset_group_arn = name, dataset_group_arn
        self.dataset_type, self.schema_arn, self.tags = dataset_type, schema_arn, tags or {}

    def execute(self, context: Context) -> str:
        validate_name(self.name, "Dataset name")
        dataset_type = self.dataset_type.upper()

        arn = self.create_or_adopt(
            # A group has one dataset of each type, whatever its name.
            find=lambda: self.hook.find_arn(
                self.kind,
                lambda summary: summary["datasetType"].upper() == dataset_type,
                datasetGroupArn=self.dataset_group_arn,
            ),
            create=lambda: self.hook.conn.create_dataset(
                name=self.name,
                schemaArn=self.schema_arn,
                datasetGroupArn=self.dataset_group_arn,
                datasetType=dataset_type,
                **_tags(self.tags),
            )["datasetArn"],
            expected={"schemaArn": self.schema_arn},
        )
        self.persist_link(context, PersonalizeDatasetLink, arn, self.dataset_group_arn)
        return self.wait_until_active(context, arn)


class PersonalizeCreateSolutionOperator(PersonalizeBaseOperator):
    """
    Create a solution (a recipe plus its configuration), or adopt it.

    Automatic training is off unless asked for: a pipeline that schedules its own
    training should not pay for the service's weekly one as well.

    :param name: Solution name. (templated)
    :param dataset_group_arn: The dataset group. (templated)
    :param recipe_arn: e.g. ``arn:aws:personalize:::recipe/aws-user-personalization``. (templated)
    :param solution_config: The ``solutionConfig`` dict. (templated)
    :param event_type: Train only on this event type. (templated)
    :param perform_auto_training: Let the service retrain on its own. (default False)
    """

    kind_name = "solution"
    default_waiter_delay = 10
    default_waiter_max_attempts = 60
    template_fields: Sequence[str] = aws_template_fields(
        "name", "dataset_group_arn", "recipe_arn", "solution_config", "event_type"
    )
    template_fields_renderers = {"solution_config": "json"}
    operator_extra_links = (PersonalizeSolutionLink(),)

    def __init__(
        self,
        *,
        name: str,
        dataset_group_arn: str,
        recipe_arn: str,
        solution_config: dict | None = None,
        event_type: str | None = None,
        perform_auto_training: bool = False,
        perform_hpo: bool = False,
        tags: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name, self.dataset_group_arn, self.recipe_arn = name, dataset_group_arn, recipe_arn
        self.solution_config, self.event_type = solution_config or {}, event_type
        self.perform_auto_training, self.perform_hpo = perform_auto_training, perform_hpo
        self.tags = tags or {}

    def execute(self, context: Context) -> str:
        validate_name(self.name, "Solution name")
        params: dict[str, Any] = {
            "name": self.name,
            "datasetGroupArn": self.dataset_group_arn,
            "recipeArn": self.recipe_arn,
            "performAutoTraining": self.perform_auto_training,
            "performHPO": self.perform_hpo,
        }
        if self.solution_config:
            params["solutionConfig"] = self.solution_config
        if self.event_type:
            params["eventType"] = self.event_type

        arn = self.create_or_adopt(
            find=lambda: self.find_by_name(self.name, datasetGroupArn=self.dataset_group_arn),
            create=lambda: self.hook.conn.create_solution(**params, **_tags(self.tags))["solutionArn"],
            expected={"recipeArn": self.recipe_arn, "eventType": self.event_type},
        )
        self.persist_link(context, PersonalizeSolutionLink, arn, self.dataset_group_arn)
        return self.wait_until_active(context, arn)


# -- paid jobs, one per task instance ----------------------------------------------------------


class PersonalizeCreateDatasetImportJobOperator(PersonalizeBaseOperator):
    """
    Import a CSV file or folder from S3 into a dataset.

    :param dataset_arn: The dataset. (templated)
    :param data_location: ``s3://bucket/key.csv`` or a folder ``s3://bucket/prefix/``. (templated)
    :param role_arn: Role the service assumes to read the bucket. (templated)
    :param import_mode: FULL replaces earlier bulk data, INCREMENTAL appends. (templated)
    :param job_name: Defaults to a name derived from the task instance. (templated)
    """

    kind_name = "dataset_import_job"
    default_waiter_delay = 60
    default_waiter_max_attempts = 720
    template_fields: Sequence[str] = aws_template_fields(
        "dataset_arn", "data_location", "role_arn", "import_mode", "job_name"
    )
    operator_extra_links = (PersonalizeDatasetImportJobLink(),)

    def __init__(
        self,
        *,
        dataset_arn: str,
        data_location: str,
        role_arn: str | None = None,
        import_mode: str = "FULL",
        job_name: str | None = None,
        tags: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset_arn, self.data_location, self.role_arn = dataset_arn, data_location, role_arn
        self.import_mode, self.job_name, self.tags = import_mode, job_name, tags or {}

    def execute(self, context: Context) -> str:
        base = validate_name(self.job_name or run_scoped_name(context, "import"), "Import job name")

        def create(name: str) -> str:
            params = {
                "jobName": name,
                "datasetArn": self.dataset_arn,
                "dataSource": {"dataLocation": self.data_location},
                "importMode": self.import_mode,
            }
            if self.role_arn:
                params["roleArn"] = self.role_arn
            return self.hook.conn.create_dataset_import_job(**params, **_tags(self.tags))[
                "datasetImportJobArn"
            ]

        arn = self.start_or_resume_job(
            base_name=base,
            scope={"datasetArn": self.dataset_arn},
            create=create,
            expected={"dataSource.dataLocation": self.data_location, "importMode": self.import_mode},
        )
        self.persist_link(context, PersonalizeDatasetImportJobLink, arn, _dataset_group_of(self.dataset_arn))
        return self.wait_until_active(context, arn)


class PersonalizeCreateSolutionVersionOperator(PersonalizeBaseOperator):
    """
    Train a solution version (FULL, or UPDATE for the user-personalization family).

    :param solution_arn: The solution to train. (templated)
    :param training_mode: FULL or UPDATE. (templated)
    :param name: Version name; defaults to one derived from the task instance. (templated)
    """

    kind_name = "solution_version"
    default_waiter_delay = 60
    default_waiter_max_attempts = 1440
    template_fields: Sequence[str] = aws_template_fields("solution_arn", "training_mode", "name")
    operator_extra_links = (PersonalizeSolutionVersionLink(),)

    def __init__(
        self,
        *,
        solution_arn: str,
        training_mode: str = "FULL",
        name: str | None = None,
        tags: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.solution_arn, self.training_mode, self.name = solution_arn, training_mode, name
        self.tags = tags or {}

    def execute(self, context: Context) -> str:
        base = validate_name(self.name or run_scoped_name(context, "train"), "Solution version name")
        arn = self.start_or_resume_job(
            base_name=base,
            scope={"solutionArn": self.solution_arn},
            create=lambda name: self.hook.conn.create_solution_version(
                solutionArn=self.solution_arn, name=name, trainingMode=self.training_mode, **_tags(self.tags)
            )["solutionVersionArn"],
            expected={"trainingMode": self.training_mode},
        )
        self.persist_link(context, PersonalizeSolutionVersionLink, arn, self.dataset_group_of_version(arn))
        return self.wait_until_active(context, arn)


class _PersonalizeBatchJobOperator(PersonalizeBaseOperator):
    """Shared by the batch inference and batch segment jobs: S3 in, S3 out, one job per task instance."""

    default_waiter_delay = 60
    default_waiter_max_attempts = 1440
    template_fields: Sequence[str] = aws_template_fields(
        "solution_version_arn",
        "input_path",
        "output_path",
        "role_arn",
        "filter_arn",
        "job_name",
        "num_results",
    )
    job_prefix: ClassVar[str]
    link: ClassVar[type]

    def __init__(
        self,
        *,
        solution_version_arn: str,
        input_path: str,
        output_path: str,
        role_arn: str,
        num_results: int = 25,
        filter_arn: str | None = None,
        job_name: str | None = None,
        tags: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.solution_version_arn = solution_version_arn
        self.input_path, self.output_path = input_path, output_path
        self.role_arn, self.num_results, self.filter_arn = role_arn, num_results, filter_arn
        self.job_name, self.tags = job_name, tags or {}

    def job_config(self) -> dict[str, Any]:
        """Extra request parameters of one job type."""
        return {}

    def create_job(self, params: dict[str, Any]) -> str:
        raise NotImplementedError

    def execute(self, context: Context) -> str:
        base = validate_name(self.job_name or run_scoped_name(context, self.job_prefix), "Batch job name")

        def create(name: str) -> str:
            params: dict[str, Any] = {
                "jobName": name,
                "solutionVersionArn": self.solution_version_arn,
                "jobInput": {"s3DataSource": {"path": self.input_path}},
                "jobOutput": {"s3DataDestination": {"path": self.output_path}},
                "roleArn": self.role_arn,
                "numResults": int(self.num_results),
                **self.job_config(),
            }
            if self.filter_arn:
                params["filterArn"] = self.filter_arn
            return self.create_job({**params, **_tags(self.tags)})

        arn = self.start_or_resume_job(
            base_name=base,
            scope={"solutionVersionArn": self.solution_version_arn},
            create=create,
            expected={
                "jobInput.s3DataSource.path": self.input_path,
                "jobOutput.s3DataDestination.path": self.output_path,
                "numResults": int(self.num_results),
            },
        )
        self.persist_link(context, self.link, arn, self.dataset_group_of_version(self.solution_version_arn))
        return self.wait_until_active(context, arn)


class PersonalizeCreateBatchInferenceJobOperator(_PersonalizeBatchJobOperator):
    """
    Score a JSON Lines file or folder of queries in S3 with a solution version.

    :param solution_version_arn: The trained version. (templated)
    :param input_path: ``s3://…`` file or folder of JSON Lines queries. (templated)
    :param output_path: ``s3://…/`` folder for ``<input>.out`` files. (templated)
    :param role_arn: Role the service assumes to read and write the bucket. (templated)
    :param num_results: Items per query. (default 25)
    :param filter_arn: A filter to apply. (templated)
    :param batch_inference_job_config: e.g. ``{"itemExplorationConfig": {...}}``. (templated)
    :param job_name: Defaults to a name derived from the task instance. (templated)
    """

    kind_name = "batch_inference_job"
    job_prefix = "batch"
    link = PersonalizeBatchInferenceJobLink
    template_fields: Sequence[str] = (
        *_PersonalizeBatchJobOperator.template_fields,
        "batch_inference_job_config",
    )
    template_fields_renderers = {"batch_inference_job_config": "json"}
    operator_extra_links = (PersonalizeBatchInferenceJobLink(),)

    def __init__(self, *, batch_inference_job_config: dict | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch_inference_job_config = batch_inference_job_config

    def job_config(self) -> dict[str, Any]:
        config = self.batch_inference_job_config
        return {"batchInferenceJobConfig": config} if config else {}

    def create_job(self, params: dict[str, Any]) -> str:
        return self.hook.conn.create_batch_inference_job(**params)["batchInferenceJobArn"]


class PersonalizeCreateBatchSegmentJobOperator(_PersonalizeBatchJobOperator):
    """
    Find the users most likely to interact with each item (or attribute) of a JSON Lines query file.

    Needs a solution version of a user-segmentation recipe.

    :param solution_version_arn: The trained version. (templated)
    :param input_path: ``s3://…`` file or folder of JSON Lines queries. (templated)
    :param output_path: ``s3://…/`` folder for ``<input>.out`` files. (templated)
    :param role_arn: Role the service assumes to read and write the bucket. (templated)
    :param num_results: Users per query. (default 25)
    :param filter_arn: A filter to apply. (templated)
    :param job_name: Defaults to a name derived from the task instance. (templated)
    """

    kind_name = "batch_segment_job"
    job_prefix = "segment"
    link = PersonalizeBatchSegmentJobLink
    operator_extra_links = (PersonalizeBatchSegmentJobLink(),)

    def create_job(self, params: dict[str, Any]) -> str:
        return self.hook.conn.create_batch_segment_job(**params)["batchSegmentJobArn"]


# -- serving: filters, event trackers, campaigns -----------------------------------------------


class PersonalizeCreateFilterOperator(PersonalizeBaseOperator):
    """
    Create a filter, or adopt the one with this name when its expression is the same.

    Filters cannot change: give a changed expression a new name.

    :param name: Filter name. (templated)
    :param dataset_group_arn: The dataset group. (templated)
    :param filter_expression: e.g. ``EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")``.
        (templated)
    """

    kind_name = "filter"
    default_waiter_delay = 10
    default_waiter_max_attempts = 60
    template_fields: Sequence[str] = aws_template_fields("name", "dataset_group_arn", "filter_expression")
    operator_extra_links = (PersonalizeFilterLink(),)

    def __init__(
        self,
        *,
        name: str,
        dataset_group_arn: str,
        filter_expression: str,
        tags: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name, self.dataset_group_arn = name, dataset_group_arn
        self.filter_expression, self.tags = filter_expression, tags or {}

    def execute(self, context: Context) -> str:
        validate_name(self.name, "Filter name")

        arn = self.create_or_adopt(
            find=lambda: self.find_by_name(self.name, datasetGroupArn=self.dataset_group_arn),
            create=lambda: self.hook.conn.create_filter(
                name=self.name,
                datasetGroupArn=self.dataset_group_arn,
                filterExpression=self.filter_expression,
                **_tags(self.tags),
            )["filterArn"],
            expected={"filterExpression": self.filter_expression},
        )
        self.persist_link(context, PersonalizeFilterLink, arn, self.dataset_group_arn)
        return self.wait_until_active(context, arn)


class PersonalizeCreateEventTrackerOperator(PersonalizeBaseOperator):
    """
    Create the dataset group's event tracker, or adopt it when it has this name.

    A dataset group has at most one tracker: one with another name fails the task
    rather than being silently used. The tracking id (what PutEvents needs) goes to
    XCom as ``tracking_id``.

    :param name: Event tracker name. (templated)
    :param dataset_group_arn: The dataset group. (templated)
    """

    kind_name = "event_tracker"
    default_waiter_delay = 10
    default_waiter_max_attempts = 60
    template_fields: Sequence[str] = aws_template_fields("name", "dataset_group_arn")
    operator_extra_links = (PersonalizeEventTrackerLink(),)

    def __init__(
        self, *, name: str, dataset_group_arn: str, tags: dict[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.name, self.dataset_group_arn, self.tags = name, dataset_group_arn, tags or {}

    def execute(self, context: Context) -> str:
        validate_name(self.name, "Event tracker name")

        def find() -> str | None:
            for tracker in self.hook.list_resources(self.kind, datasetGroupArn=self.dataset_group_arn):
                if tracker["name"] != self.name:
                    raise PersonalizeResourceMismatchError(
                        f"Dataset group {self.dataset_group_arn} already has event tracker "
                        f"{tracker['name']!r} ({tracker['eventTrackerArn']}); a group has at most one. "
                        f"Use that name, or delete it to create {self.name!r}."
                    )
                return tracker["eventTrackerArn"]
            return None

        arn = self.create_or_adopt(
            find=find,
            create=lambda: self.hook.conn.create_event_tracker(
                name=self.name, datasetGroupArn=self.dataset_group_arn, **_tags(self.tags)
            )["eventTrackerArn"],
            expected={},  # found under this group by this name: nothing else to compare
        )
        self.persist_link(context, PersonalizeEventTrackerLink, arn, self.dataset_group_arn)
        arn = self.wait_until_active(context, arn)
        self._push_tracking_id(context, arn)
        return arn

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None, kind_name: str = ""):
        arn = super().execute_complete(context, event, kind_name)
        self._push_tracking_id(context, arn)
        return arn

    def _push_tracking_id(self, context: Context, arn: str) -> None:
        tracker = self.hook.describe(self.kind, arn)["eventTracker"]
        if self.do_xcom_push and tracker.get("trackingId"):
            context["ti"].xcom_push(key="tracking_id", value=tracker["trackingId"])


class PersonalizeCreateCampaignOperator(PersonalizeBaseOperator):
    """
    Deploy a solution version behind a campaign: create it, or move the existing one to this version.

    An existing campaign of this name is updated (UpdateCampaign, then waited on through
    ``latestCampaignUpdate``) unless it already serves, or is being moved to, this version
    with these settings: then the task returns (or waits) without another update.

    :param name: Campaign name. (templated)
    :param solution_version_arn: The version to serve. (templated)
    :param min_provisioned_tps: Minimum provisioned transactions per second (billed). (default 1)
    :param campaign_config: The ``campaignConfig`` dict. (templated)
    """

    kind_name = "campaign"
    default_waiter_delay = 30
    default_waiter_max_attempts = 240
    template_fields: Sequence[str] = aws_template_fields(
        "name", "solution_version_arn", "min_provisioned_tps", "campaign_config"
    )
    template_fields_renderers = {"campaign_config": "json"}
    operator_extra_links = (PersonalizeCampaignLink(),)

    def __init__(
        self,
        *,
        name: str,
        solution_version_arn: str,
        min_provisioned_tps: int = 1,
        campaign_config: dict | None = None,
        tags: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name, self.solution_version_arn = name, solution_version_arn
        self.min_provisioned_tps, self.campaign_config = min_provisioned_tps, campaign_config
        self.tags = tags or {}

    def _settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "solutionVersionArn": self.solution_version_arn,
            "minProvisionedTPS": int(self.min_provisioned_tps),
        }
        if self.campaign_config:
            settings["campaignConfig"] = self.campaign_config
        return settings

    def execute(self, context: Context) -> str:
        validate_name(self.name, "Campaign name")
        # An existing campaign is not compared but moved to the requested settings (see _update).
        arn, created = self.find_by_name(self.name), False
        if arn is None:
            arn, created = self.create_or_find(
                find=lambda: self.find_by_name(self.name),
                create=lambda: self.hook.conn.create_campaign(
                    name=self.name, **self._settings(), **_tags(self.tags)
                )["campaignArn"],
            )
        group = self.dataset_group_of_version(self.solution_version_arn)
        self.persist_link(context, PersonalizeCampaignLink, arn, group)
        return self.wait_until_active(context, arn) if created else self._update(context, arn)

    def _update(self, context: Context, arn: str) -> str:
        campaign = self.hook.describe(self.kind, arn)["campaign"]
        if campaign.get("status") not in self.kind.active_states:
            # Still being created (or failed): no update is possible yet; wait for, or report, that.
            return self.wait_until_active(context, arn)
        update = campaign.get("latestCampaignUpdate") or {}
        update_failed = update.get("status") in RESOURCE_KINDS["campaign_update"].failure_states
        target = campaign if not update or update_failed else {**campaign, **update}
        wanted = self._settings()
        if all(_normalise(target.get(key)) == _normalise(value) for key, value in wanted.items()):
            if update and not update_failed:
                return self.wait_until_active(context, arn, "campaign_update")
            self.log.info("Personalize campaign %s already serves %s.", arn, self.solution_version_arn)
            return arn
        if update and not update_failed and update.get("status") != "ACTIVE":
            raise AirflowException(
                f"Personalize campaign {arn} is being updated to {update.get('solutionVersionArn')}; "
                "retry once that update has finished."
            )
        self.hook.conn.update_campaign(campaignArn=arn, **wanted)
        self.log.info("Updating Personalize campaign %s to %s.", arn, self.solution_version_arn)
        return self.wait_until_active(context, arn, "campaign_update")


def _tags(tags: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    """The ``tags`` request parameter, left out when there are none."""
    return {"tags": [{"tagKey": k, "tagValue": v} for k, v in tags.items()]} if tags else {}
