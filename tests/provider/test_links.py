"""Console links: URL-encoded ARNs, every link registered by the plugin."""

from __future__ import annotations

import pytest
from personalize_plugin import PersonalizePlugin

from personalize_provider.links.personalize import (
    ALL_LINKS,
    PersonalizeBatchSegmentJobLink,
    PersonalizeCampaignLink,
    PersonalizeDatasetLink,
    PersonalizeEventTrackerLink,
    PersonalizeFilterLink,
    PersonalizeSchemaLink,
    PersonalizeSolutionVersionLink,
)
from personalize_provider.operators import personalize as personalize_operators

GROUP = "arn:aws:personalize:eu-west-1:123456789012:dataset-group/shop"
ENCODED_GROUP = "arn%3Aaws%3Apersonalize%3Aeu-west-1%3A123456789012%3Adataset-group%2Fshop"
CONSOLE = "https://console.aws.amazon.com/personalize/home?region=eu-west-1#/" + ENCODED_GROUP


@pytest.mark.parametrize(
    ("link", "arn", "path"),
    [
        (PersonalizeFilterLink, "arn:aws:personalize:eu-west-1:1:filter/f", "filters"),
        (PersonalizeEventTrackerLink, "arn:aws:personalize:eu-west-1:1:event-tracker/e", "eventTrackers"),
        (PersonalizeCampaignLink, "arn:aws:personalize:eu-west-1:1:campaign/c", "campaigns"),
        (
            PersonalizeBatchSegmentJobLink,
            "arn:aws:personalize:eu-west-1:1:batch-segment-job/s",
            "batchSegmentJobs",
        ),
    ],
)
def test_link_encodes_both_arns(link, arn, path):
    url = link().format_link(
        aws_domain="aws.amazon.com", region_name="eu-west-1", arn=arn, dataset_group_arn=GROUP
    )
    assert url == f"{CONSOLE}/{path}/{arn.replace(':', '%3A').replace('/', '%2F')}"


def test_plugin_registers_every_link():
    assert {type(link) for link in PersonalizePlugin.operator_extra_links} == set(ALL_LINKS)
    assert len({link.key for link in ALL_LINKS}) == len(ALL_LINKS)


@pytest.mark.parametrize(
    ("link", "arn", "path"),
    [
        (PersonalizeDatasetLink, "arn:aws:personalize:eu-west-1:1:dataset/shop/INTERACTIONS", "datasets"),
        (
            PersonalizeSolutionVersionLink,
            "arn:aws:personalize:eu-west-1:1:solution/recs/abc",
            "solutionVersions",
        ),
    ],
)
def test_resource_links_under_the_group(link, arn, path):
    test_link_encodes_both_arns(link, arn, path)


def test_schema_link_needs_no_group():
    arn = "arn:aws:personalize:eu-west-1:1:schema/interactions"
    url = PersonalizeSchemaLink().format_link(aws_domain="aws.amazon.com", region_name="eu-west-1", arn=arn)
    assert url.endswith("#/schemas/arn%3Aaws%3Apersonalize%3Aeu-west-1%3A1%3Aschema%2Finteractions")


def test_every_create_operator_has_a_registered_console_link():
    operators = [
        cls
        for name, cls in vars(personalize_operators).items()
        if name.startswith("PersonalizeCreate") and isinstance(cls, type)
    ]
    assert len(operators) == 11
    for cls in operators:
        assert cls.operator_extra_links, cls.__name__
        assert {type(link) for link in cls.operator_extra_links} <= set(ALL_LINKS), cls.__name__
