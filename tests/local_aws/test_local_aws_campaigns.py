"""UpdateCampaign deploys over time: the campaign keeps serving its old version until the update is ACTIVE.

Its own endpoint with one-second steps, so the update's in-progress state lasts long enough to see.
"""

from __future__ import annotations

import boto3
import pytest
from conftest import active_solution, imported_dataset, trained_version

from local_aws.testing import DUMMY_CREDENTIALS, running_endpoint, synthetic_interactions_csv, wait_for

STEP = 1.0


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """An ACTIVE campaign on the first of two ACTIVE popularity versions."""
    with running_endpoint(tmp_path_factory.mktemp("campaigns"), step_seconds=STEP) as url:
        personalize = boto3.client("personalize", endpoint_url=url, **DUMMY_CREDENTIALS)
        s3 = boto3.client("s3", endpoint_url=url, **DUMMY_CREDENTIALS)
        group, _ = imported_dataset(personalize, s3, "campaigns", synthetic_interactions_csv())
        solution = active_solution(personalize, group, "campaigns", "aws-popularity-count")
        versions = [trained_version(personalize, solution) for _ in range(2)]
        campaign = personalize.create_campaign(name="campaigns", solutionVersionArn=versions[0])[
            "campaignArn"
        ]
        wait_for(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"])
        yield {
            "personalize": personalize,
            "runtime": boto3.client("personalize-runtime", endpoint_url=url, **DUMMY_CREDENTIALS),
            "campaign": campaign,
            "versions": versions,
        }


def test_an_update_takes_time_and_the_old_version_serves_meanwhile(deployed):
    personalize, runtime, campaign = deployed["personalize"], deployed["runtime"], deployed["campaign"]
    old, new = deployed["versions"]
    personalize.update_campaign(campaignArn=campaign, solutionVersionArn=new, minProvisionedTPS=2)

    during = personalize.describe_campaign(campaignArn=campaign)["campaign"]
    assert during["status"] == "ACTIVE"
    assert (during["solutionVersionArn"], during["minProvisionedTPS"]) == (old, 1)
    update = during["latestCampaignUpdate"]
    assert (update["status"], update["solutionVersionArn"], update["minProvisionedTPS"]) == (
        "UPDATE IN_PROGRESS",
        new,
        2,
    )
    assert runtime.get_recommendations(campaignArn=campaign, userId="u1", numResults=3)["itemList"]
    with pytest.raises(personalize.exceptions.ResourceInUseException, match="being updated"):
        personalize.update_campaign(campaignArn=campaign, solutionVersionArn=old)

    seen = []

    def latest_update():
        record = personalize.describe_campaign(campaignArn=campaign)["campaign"]
        seen.append(record["latestCampaignUpdate"]["status"])
        return {**record, "status": record["latestCampaignUpdate"]["status"]}

    after, _ = wait_for(latest_update, timeout=60)
    assert after["status"] == "ACTIVE" and set(seen) == {"UPDATE IN_PROGRESS", "ACTIVE"}
    assert (after["solutionVersionArn"], after["minProvisionedTPS"]) == (new, 2)
    assert (
        after["latestCampaignUpdate"]["lastUpdatedDateTime"]
        > after["latestCampaignUpdate"]["creationDateTime"]
    )
