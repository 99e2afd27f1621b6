"""A campaign variant against the local Personalize endpoint: the names the retrain DAG gives the
campaign and the filter are the ones the API asks GetRecommendations for."""

from __future__ import annotations

import json

import pytest
from api_testdata import IN_EXPERIMENT, config_of, demo_config_data

from devenv.airflow_env import LOCAL_AWS_KEY, LOCAL_AWS_SECRET
from local_aws.testing import SYNTHETIC_INTERACTIONS_SCHEMA, synthetic_interactions_csv, wait_for

GROUP = "serving-campaign-test"
BUCKET = "serving-campaign-test"
ROLE = "arn:aws:iam::123456789012:role/PersonalizePipelineRole"
EXCLUDE_PURCHASED = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")'


@pytest.fixture(scope="module")
def campaign(aws_clients):
    """A trained dataset group with the campaign and filter named as the retrain DAG names them."""
    personalize, s3 = aws_clients("personalize"), aws_clients("s3")
    group = personalize.create_dataset_group(name=GROUP)["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
    schema = personalize.create_schema(
        name=f"{GROUP}-interactions", schema=json.dumps(SYNTHETIC_INTERACTIONS_SCHEMA)
    )["schemaArn"]
    dataset = personalize.create_dataset(
        name=f"{GROUP}-interactions", datasetGroupArn=group, schemaArn=schema, datasetType="Interactions"
    )["datasetArn"]
    wait_for(lambda: personalize.describe_dataset(datasetArn=dataset)["dataset"])
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="interactions.csv", Body=synthetic_interactions_csv().encode())
    job = personalize.create_dataset_import_job(
        jobName=f"{GROUP}-import",
        datasetArn=dataset,
        roleArn=ROLE,
        dataSource={"dataLocation": f"s3://{BUCKET}/interactions.csv"},
    )["datasetImportJobArn"]
    wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
    solution = personalize.create_solution(
        name=f"{GROUP}-user-personalization",
        datasetGroupArn=group,
        recipeArn="arn:aws:personalize:::recipe/aws-user-personalization",
    )["solutionArn"]
    wait_for(lambda: personalize.describe_solution(solutionArn=solution)["solution"])
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"])
    arn = personalize.create_campaign(name=f"{GROUP}-user-personalization", solutionVersionArn=version)[
        "campaignArn"
    ]
    wait_for(lambda: personalize.describe_campaign(campaignArn=arn)["campaign"])
    filter_arn = personalize.create_filter(
        name=f"{GROUP}-exclude-purchased", datasetGroupArn=group, filterExpression=EXCLUDE_PURCHASED
    )["filterArn"]
    wait_for(lambda: personalize.describe_filter(filterArn=filter_arn)["filter"])
    return arn


def test_a_campaign_variant_serves_the_campaign_with_its_filter(
    caches, serve, aws_endpoint, campaign, monkeypatch
):
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", LOCAL_AWS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", LOCAL_AWS_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    data = demo_config_data(dataset_group=GROUP, serving={"campaign_timeout_seconds": 5})
    data["solutions"]["user-personalization"]["campaign"]["enabled"] = True
    realtime = {"campaign": "user-personalization"}
    data["experiments"]["homepage-recs"]["variants"] = [
        {"name": "realtime", "weight": 1, "source": realtime},
        {"name": "realtime-b", "weight": 1, "source": realtime},
    ]
    header = {"X-Simulated-Time": str(IN_EXPERIMENT.timestamp())}
    with serve(config_of(data), caches, simulated_clock=True) as client:
        body = client.get("/recommendations/u1", headers=header, params={"n": 25}).json()
    # Served by the campaign, so both names resolved: the endpoint rejects an unknown campaign or
    # filter ARN (and the API then falls back to the cache). test_serving_fallbacks checks the exact request.
    assert body["source"] == "campaign", body
    items = [item["item_id"] for item in body["items"]]
    assert len(items) == 25 and all(item.startswith("i") for item in items)
