"""UpdateCampaign deploys over time: the campaign keeps serving its old version until the update is ACTIVE.

Its own endpoint with one-second steps, so the update's in-progress state lasts long enough to see.
"""

from __future__ import annotations

import boto3
import pytest
from conftest import INTERACTIONS_SCHEMA, ROLE, create_dataset

from local_aws.testing import DUMMY_CREDENTIALS, running_endpoint, synthetic_interactions_csv, wait_for

STEP = 1.0


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """An ACTIVE campaign on the first of two ACTIVE popularity versions."""
    with running_endpoint(tmp_path_factory.mktemp("campaigns"), step_seconds=STEP) as url:
        personalize = boto3.client("personalize", endpoint_url=url, **DUMMY_CREDENTIALS)
        s3 = boto3.client("s3", endpoint_url=url, **DUMMY_CREDENTIALS)
        s3.create_bucket(Bucket="campaigns")
        s3.put_object(Bucket="campaigns", Key="i.csv", Body=synthetic_interactions_csv().encode())
        schema = personalize.create_schema(name="campaigns", schema=INTERACTIONS_SCHEMA)["schemaArn"]
        group, dataset = create_dataset(personalize, schema, "campaigns")
        job = personalize.create_dataset_import_job(
            jobName="campaigns",
            datasetArn=dataset,
            roleArn=ROLE,
            dataSource={"dataLocation": "s3://campaigns/i.csv"},
        )["datasetImportJobArn"]
        wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
        solution = personalize.create_solution(
            name="campaigns",
            datasetGroupArn=group,
            recipeArn="arn:aws:personalize:::recipe/aws-popularity-count",
            performAutoTraining=False,
        )["solutionArn"]
        wait_for(lambda: personalize.describe_solution(solutionArn=solution)["solution"])
        versions = []
        for _ in range(2):
            arn = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
            wait_for(
                lambda a=arn: personalize.describe_solution_version(solutionVersionArn=a)["solutionVersion"]
            )
            versions.append(arn)
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
