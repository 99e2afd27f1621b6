"""Console links: URL-encoded ARNs, every link registered by the plugin."""

from __future__ import annotations

import pytest
from personalize_plugin import PersonalizePlugin

from personalize_provider.links.personalize import (
    ALL_LINKS,
    PersonalizeBatchSegmentJobLink,
    PersonalizeCampaignLink,
    PersonalizeEventTrackerLink,
    PersonalizeFilterLink,
)

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
