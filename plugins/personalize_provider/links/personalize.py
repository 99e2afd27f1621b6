"""Extra links from a task to its Personalize resource in the AWS console."""

from __future__ import annotations

from urllib.parse import quote

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink

_CONSOLE = BASE_AWS_CONSOLE_LINK + "/personalize/home?region={region_name}#"


class _ArnLink(BaseAwsLink):
    """The console addresses resources by their URL-encoded ARN."""

    def format_link(self, **kwargs) -> str:
        for key in ("arn", "dataset_group_arn"):
            if kwargs.get(key):
                kwargs = {**kwargs, key: quote(kwargs[key], safe="")}
        return super().format_link(**kwargs)


class PersonalizeDatasetGroupLink(_ArnLink):
    name = "Personalize Dataset Group"
    key = "personalize_dataset_group"
    format_str = _CONSOLE + "/{arn}/setup"


class PersonalizeSchemaLink(_ArnLink):
    name = "Personalize Schema"
    key = "personalize_schema"
    format_str = _CONSOLE + "/schemas/{arn}"  # schemas belong to the account, not to a group


class PersonalizeDatasetLink(_ArnLink):
    name = "Personalize Dataset"
    key = "personalize_dataset"
    format_str = _CONSOLE + "/{dataset_group_arn}/datasets/{arn}"


class PersonalizeDatasetImportJobLink(_ArnLink):
    name = "Personalize Import Job"
    key = "personalize_dataset_import_job"
    format_str = _CONSOLE + "/{dataset_group_arn}/datasets"


class PersonalizeSolutionLink(_ArnLink):
    name = "Personalize Solution"
    key = "personalize_solution"
    format_str = _CONSOLE + "/{dataset_group_arn}/solutionsAndRecipes/{arn}"


class PersonalizeSolutionVersionLink(_ArnLink):
    name = "Personalize Solution Version"
    key = "personalize_solution_version"
    format_str = _CONSOLE + "/{dataset_group_arn}/solutionVersions/{arn}"


class PersonalizeCampaignLink(_ArnLink):
    name = "Personalize Campaign"
    key = "personalize_campaign"
    format_str = _CONSOLE + "/{dataset_group_arn}/campaigns/{arn}"


class PersonalizeBatchInferenceJobLink(_ArnLink):
    name = "Personalize Batch Inference Job"
    key = "personalize_batch_inference_job"
    format_str = _CONSOLE + "/{dataset_group_arn}/batchInferenceJobs/{arn}"


class PersonalizeBatchSegmentJobLink(_ArnLink):
    name = "Personalize Batch Segment Job"
    key = "personalize_batch_segment_job"
    format_str = _CONSOLE + "/{dataset_group_arn}/batchSegmentJobs/{arn}"


class PersonalizeFilterLink(_ArnLink):
    name = "Personalize Filter"
    key = "personalize_filter"
    format_str = _CONSOLE + "/{dataset_group_arn}/filters/{arn}"


class PersonalizeEventTrackerLink(_ArnLink):
    name = "Personalize Event Tracker"
    key = "personalize_event_tracker"
    format_str = _CONSOLE + "/{dataset_group_arn}/eventTrackers/{arn}"


ALL_LINKS = (
    PersonalizeDatasetGroupLink,
    PersonalizeSchemaLink,
    PersonalizeDatasetLink,
    PersonalizeDatasetImportJobLink,
    PersonalizeSolutionLink,
    PersonalizeSolutionVersionLink,
    PersonalizeCampaignLink,
    PersonalizeBatchInferenceJobLink,
    PersonalizeBatchSegmentJobLink,
    PersonalizeFilterLink,
    PersonalizeEventTrackerLink,
)
