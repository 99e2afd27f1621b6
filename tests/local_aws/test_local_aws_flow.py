"""The walking skeleton end to end over real HTTP: group -> import -> train -> metrics -> batch."""

from __future__ import annotations

import json

import pytest
from conftest import CREATE_CHAIN, ROLE, wait_gone, walked

from local_aws.testing import synthetic_interactions_csv, wait_for

ALS = "arn:aws:personalize:::recipe/aws-user-personalization"
POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"


@pytest.fixture(scope="module")
def trained(personalize, make_dataset, import_csv):
    """One dataset group with structured data, an ALS and a popularity solution, both trained."""
    group, dataset = make_dataset("flow")
    job = import_csv(dataset, "flow-import", synthetic_interactions_csv())
    assert job["status"] == "ACTIVE", job
    versions = {}
    for name, recipe in (("flow-als", ALS), ("flow-pop", POPULARITY)):
        solution = personalize.create_solution(
            name=name,
            datasetGroupArn=group,
            recipeArn=recipe,
            performAutoTraining=False,
            solutionConfig={"algorithmHyperParameters": {"hidden_dimension": "24"}},
        )["solutionArn"]
        wait_for(lambda s=solution: personalize.describe_solution(solutionArn=s)["solution"])
        arn = personalize.create_solution_version(
            solutionArn=solution, name=f"{name}-v1", trainingMode="FULL"
        )["solutionVersionArn"]
        versions[name] = (solution, arn)
    seen = {}
    for name, (_, arn) in versions.items():
        record, seen[name] = wait_for(
            lambda a=arn: personalize.describe_solution_version(solutionVersionArn=a)["solutionVersion"]
        )
        assert record["status"] == "ACTIVE", record
    return {"group": group, "dataset": dataset, "versions": versions, "statuses": seen}


def test_dataset_group_walks_the_status_chain(personalize):
    arn = personalize.create_dataset_group(name="chain-group")["datasetGroupArn"]
    assert arn == "arn:aws:personalize:us-east-1:123456789012:dataset-group/chain-group"
    record, seen = wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"])
    assert walked(seen, CREATE_CHAIN), seen
    assert isinstance(record["creationDateTime"].timestamp(), float)
    assert "failureReason" not in record
    names = [g["name"] for g in personalize.list_dataset_groups()["datasetGroups"]]
    assert "chain-group" in names

    with pytest.raises(personalize.exceptions.ResourceAlreadyExistsException) as exc:
        personalize.create_dataset_group(name="chain-group")
    assert exc.value.response["Error"]["Message"] == f"Another resource with Arn {arn} already exists."

    personalize.delete_dataset_group(datasetGroupArn=arn)
    seen = wait_gone(
        lambda: personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"],
        personalize.exceptions.ResourceNotFoundException,
    )
    assert seen in ([], ["DELETE PENDING"])  # DELETE PENDING itself: test_local_aws_frozen


def test_errors_are_aws_shaped(personalize):
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.describe_dataset_group(
            datasetGroupArn="arn:aws:personalize:us-east-1:123456789012:dataset-group/nope"
        )
    with pytest.raises(personalize.exceptions.InvalidInputException) as exc:
        personalize.create_dataset_group(name="bad name!")
    assert "pattern" in exc.value.response["Error"]["Message"]
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_schema(name="not-a-record", schema=json.dumps({"type": "string"}))
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.describe_recipe(recipeArn="arn:aws:personalize:::recipe/aws-nope")


def test_dataset_rules(personalize, make_dataset, interactions_schema):
    group, dataset = make_dataset("rules")
    assert dataset.endswith(":dataset/rules/INTERACTIONS")
    with pytest.raises(personalize.exceptions.ResourceAlreadyExistsException):
        personalize.create_dataset(
            name="rules-second",
            datasetGroupArn=group,
            schemaArn=interactions_schema,
            datasetType="INTERACTIONS",
        )
    with pytest.raises(personalize.exceptions.InvalidInputException, match="ITEM_ID"):
        # a users schema has no ITEM_ID, which an ITEMS dataset needs
        personalize.create_dataset(
            name="rules-items",
            datasetGroupArn=group,
            schemaArn=personalize.create_schema(
                name="users-only",
                schema=json.dumps(
                    {
                        "type": "record",
                        "name": "Users",
                        "fields": [{"name": "USER_ID", "type": "string"}, {"name": "AGE", "type": "int"}],
                    }
                ),
            )["schemaArn"],
            datasetType="ITEMS",
        )


def test_training_produces_versions_and_metrics(personalize, trained):
    solution, version = trained["versions"]["flow-als"]
    assert walked(trained["statuses"]["flow-als"], CREATE_CHAIN), trained["statuses"]
    assert version.startswith(solution + "/") and len(version.rsplit("/", 1)[1]) == 8
    described = personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert described["trainingMode"] == "FULL"
    assert described["recipeArn"] == ALS
    assert described["trainingHours"] > 0

    listed = personalize.list_solution_versions(solutionArn=solution)["solutionVersions"]
    assert [v["solutionVersionArn"] for v in listed] == [version]

    metrics = personalize.get_solution_metrics(solutionVersionArn=version)["metrics"]
    assert set(metrics) == {
        "coverage",
        "mean_reciprocal_rank_at_25",
        "normalized_discounted_cumulative_gain_at_5",
        "normalized_discounted_cumulative_gain_at_10",
        "normalized_discounted_cumulative_gain_at_25",
        "precision_at_5",
        "precision_at_10",
        "precision_at_25",
    }
    assert all(0.0 <= value <= 1.0 for value in metrics.values())
    assert metrics["precision_at_10"] > 0 and metrics["normalized_discounted_cumulative_gain_at_25"] > 0


def test_als_beats_popularity_on_structured_data(personalize, trained):
    als = personalize.get_solution_metrics(solutionVersionArn=trained["versions"]["flow-als"][1])["metrics"]
    pop = personalize.get_solution_metrics(solutionVersionArn=trained["versions"]["flow-pop"][1])["metrics"]
    assert als["precision_at_10"] > pop["precision_at_10"]
    ndcg = "normalized_discounted_cumulative_gain_at_10"
    assert als[ndcg] > pop[ndcg]
    assert als["coverage"] > pop["coverage"]


def test_batch_inference_writes_one_line_per_input(personalize, clients, bucket, trained):
    version = trained["versions"]["flow-als"][1]
    lines = ['{"userId": "u1"}', '{"userId": "u2"}', "not json", '{"itemId": "i1"}', '{"userId": "stranger"}']
    clients["s3"].put_object(Bucket=bucket, Key="batch/in/users.json", Body="\n".join(lines).encode())
    job = personalize.create_batch_inference_job(
        jobName="flow-batch",
        solutionVersionArn=version,
        roleArn=ROLE,
        numResults=10,
        jobInput={"s3DataSource": {"path": f"s3://{bucket}/batch/in/"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{bucket}/batch/out/"}},
    )["batchInferenceJobArn"]
    record, seen = wait_for(
        lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=job)["batchInferenceJob"]
    )
    assert record["status"] == "ACTIVE", record
    assert walked(seen, ["PENDING", "IN PROGRESS", "ACTIVE"]), seen

    body = clients["s3"].get_object(Bucket=bucket, Key="batch/out/users.json.out")["Body"].read().decode()
    out = [json.loads(line) for line in body.splitlines()]
    assert len(out) == 5
    first = out[0]
    assert first["input"] == {"userId": "u1"} and first["error"] is None
    items, scores = first["output"]["recommendedItems"], first["output"]["scores"]
    assert len(items) == 10 == len(set(items)) and scores == sorted(scores, reverse=True)
    assert 0 < sum(scores) <= 1.0001
    # user u1 is in cluster 1: most recommendations come from items i1, i5, i9, ... (i % 4 == 1)
    assert sum(int(item[1:]) % 4 == 1 for item in items) >= 7
    assert out[2]["output"] is None and "not valid JSON" in out[2]["error"]
    assert out[3]["output"] is None and "userId" in out[3]["error"]
    assert out[4]["error"] is None and len(out[4]["output"]["recommendedItems"]) == 10  # cold start

    listed = personalize.list_batch_inference_jobs(solutionVersionArn=version)["batchInferenceJobs"]
    assert [j["batchInferenceJobArn"] for j in listed] == [job]


def test_batch_job_needs_an_active_version(personalize):
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.create_batch_inference_job(
            jobName="no-version",
            roleArn=ROLE,
            solutionVersionArn="arn:aws:personalize:us-east-1:123456789012:solution/x/0000abcd",
            jobInput={"s3DataSource": {"path": "s3://b/in.json"}},
            jobOutput={"s3DataDestination": {"path": "s3://b/out/"}},
        )


def test_campaign_serves_recommendations(personalize, clients, trained):
    version = trained["versions"]["flow-als"][1]
    campaign = personalize.create_campaign(
        name="flow-campaign", solutionVersionArn=version, minProvisionedTPS=1
    )["campaignArn"]
    record, _ = wait_for(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"])
    assert record["status"] == "ACTIVE"
    runtime = clients["personalize-runtime"]
    response = runtime.get_recommendations(campaignArn=campaign, userId="u2", numResults=5)
    assert len(response["itemList"]) == 5
    assert all("score" in entry for entry in response["itemList"])
    assert response["recommendationId"]
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        runtime.get_recommendations(campaignArn=campaign + "-missing", userId="u2")


def test_update_training_keeps_item_factors(personalize, trained):
    solution, _ = trained["versions"]["flow-als"]
    arn = personalize.create_solution_version(solutionArn=solution, trainingMode="UPDATE")[
        "solutionVersionArn"
    ]
    record, _ = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"]
    )
    assert record["status"] == "ACTIVE" and record["trainingMode"] == "UPDATE"
    listed = personalize.list_solution_versions(solutionArn=solution)["solutionVersions"]
    assert listed[0]["solutionVersionArn"] == arn  # newest first
