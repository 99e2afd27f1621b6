"""Filters, event trackers and events, batch segment jobs, more recipes, tags — over real HTTP."""

from __future__ import annotations

import io
import json
import time

import pytest
from conftest import CREATE_CHAIN, ROLE, wait_gone, walked

from local_aws.testing import synthetic_interactions_csv, wait_for

RECIPE = "arn:aws:personalize:::recipe/"
RECIPES = (
    "aws-user-personalization",
    "aws-sims",
    "aws-similar-items",
    "aws-personalized-ranking",
    "aws-trending-now",
    "aws-item-affinity",
    "aws-item-attribute-affinity",
)
ITEMS_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Items",
        "fields": [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "CATEGORY", "type": "string", "categorical": True},
            {"name": "PRICE", "type": "float"},
        ],
    }
)


def cluster(name: str) -> int:
    return int(name[1:]) % 4


@pytest.fixture(scope="module")
def feat(personalize, make_dataset, import_csv):
    """One dataset group with interactions and items, a version of every recipe, campaigns."""
    group, interactions = make_dataset("feat")
    assert import_csv(interactions, "feat-import", synthetic_interactions_csv())["status"] == "ACTIVE"
    schema = personalize.create_schema(name="feat-items", schema=ITEMS_SCHEMA)["schemaArn"]
    items = personalize.create_dataset(
        name="feat-items", datasetGroupArn=group, schemaArn=schema, datasetType="ITEMS"
    )["datasetArn"]
    wait_for(lambda: personalize.describe_dataset(datasetArn=items)["dataset"])
    csv = "ITEM_ID,CATEGORY,PRICE\n" + "".join(f"i{i},c{i % 4},{i}.0\n" for i in range(120))
    assert import_csv(items, "feat-items-import", csv)["status"] == "ACTIVE"
    versions = {}
    for recipe in RECIPES:
        solution = personalize.create_solution(
            name=f"feat-{recipe}",
            datasetGroupArn=group,
            recipeArn=RECIPE + recipe,
            performAutoTraining=False,
            solutionConfig={"algorithmHyperParameters": {"hidden_dimension": "24"}},
        )["solutionArn"]
        wait_for(lambda s=solution: personalize.describe_solution(solutionArn=s)["solution"])
        versions[recipe] = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    for recipe, arn in versions.items():
        record, _ = wait_for(
            lambda a=arn: personalize.describe_solution_version(solutionVersionArn=a)["solutionVersion"]
        )
        assert record["status"] == "ACTIVE", (recipe, record)
    campaigns = {}
    for recipe in (
        "aws-user-personalization",
        "aws-sims",
        "aws-similar-items",
        "aws-personalized-ranking",
        "aws-trending-now",
    ):
        campaigns[recipe] = personalize.create_campaign(
            name=f"feat-{recipe}", solutionVersionArn=versions[recipe]
        )["campaignArn"]
    for arn in campaigns.values():
        wait_for(lambda a=arn: personalize.describe_campaign(campaignArn=a)["campaign"])
    return {"group": group, "items": items, "versions": versions, "campaigns": campaigns}


def make_filter(personalize, group, name, expression):
    arn = personalize.create_filter(name=name, datasetGroupArn=group, filterExpression=expression)[
        "filterArn"
    ]
    record, seen = wait_for(lambda: personalize.describe_filter(filterArn=arn)["filter"])
    assert record["status"] == "ACTIVE" and walked(seen, CREATE_CHAIN), seen
    return arn


def inference_describer(personalize):
    return lambda arn: personalize.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"]


def run_batch(personalize, clients, bucket, create, describe, name, version, lines, **extra):
    clients["s3"].put_object(Bucket=bucket, Key=f"{name}/in/q.json", Body="\n".join(lines).encode())
    arn = create(
        jobName=name,
        solutionVersionArn=version,
        roleArn=ROLE,
        jobInput={"s3DataSource": {"path": f"s3://{bucket}/{name}/in/"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{bucket}/{name}/out/"}},
        **extra,
    )
    arn = next(v for k, v in arn.items() if k.endswith("JobArn"))
    record, _ = wait_for(lambda: describe(arn))
    assert record["status"] == "ACTIVE", record
    body = clients["s3"].get_object(Bucket=bucket, Key=f"{name}/out/q.json.out")["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_filters(personalize, clients, bucket, feat):
    group, campaign = feat["group"], feat["campaigns"]["aws-user-personalization"]
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_filter(name="bad", datasetGroupArn=group, filterExpression="INCLUDE Items WHERE")
    by_cat = make_filter(personalize, group, "feat-cat", "INCLUDE ItemID WHERE Items.CATEGORY IN ($CAT)")
    cheap = make_filter(personalize, group, "feat-cheap", "EXCLUDE ItemID WHERE Items.PRICE < $MAX")
    listed = personalize.list_filters(datasetGroupArn=group)["Filters"]
    assert {f["filterArn"] for f in listed} == {by_cat, cheap}

    runtime = clients["personalize-runtime"]
    items = runtime.get_recommendations(
        campaignArn=campaign, userId="u1", numResults=10, filterArn=by_cat, filterValues={"CAT": '"c2"'}
    )["itemList"]
    assert len(items) == 10 and all(cluster(e["itemId"]) == 2 for e in items)
    with pytest.raises(runtime.exceptions.InvalidInputException):
        runtime.get_recommendations(campaignArn=campaign, userId="u1", filterArn=by_cat)
    items = runtime.get_recommendations(
        campaignArn=campaign, userId="u1", numResults=25, filterArn=cheap, filterValues={"MAX": "100"}
    )["itemList"]
    assert all(int(e["itemId"][1:]) >= 100 for e in items) and items
    unfiltered = runtime.get_recommendations(campaignArn=campaign, userId="u1", filterArn=cheap)["itemList"]
    assert len(unfiltered) == 25  # EXCLUDE without its value: that part is off

    out = run_batch(
        personalize,
        clients,
        bucket,
        personalize.create_batch_inference_job,
        inference_describer(personalize),
        "feat-filtered",
        feat["versions"]["aws-user-personalization"],
        ['{"userId": "u1", "filterValues": {"CAT": "\\"c3\\""}}', '{"userId": "u2"}'],
        filterArn=by_cat,
        numResults=5,
    )
    assert all(cluster(i) == 3 for i in out[0]["output"]["recommendedItems"])
    assert out[1]["output"] is None and "filterValues" in out[1]["error"]
    personalize.delete_filter(filterArn=cheap)
    seen = wait_gone(
        lambda: personalize.describe_filter(filterArn=cheap)["filter"],
        personalize.exceptions.ResourceNotFoundException,
    )
    assert seen in ([], ["DELETE PENDING"])  # DELETE PENDING itself: test_local_aws_frozen


def stored_rows(tmp_path_factory, dataset_type: str) -> int:
    """Rows in the endpoint's stored dataset (the data dir the conftest endpoint writes to),
    read as training and filters read it: the imported file plus the events API's log."""
    from local_aws.personalize.imports import DatasetFiles

    root = next(tmp_path_factory.getbasetemp().glob("local_aws*/datasets"))
    arn = f"arn:aws:personalize:us-east-1:123456789012:dataset/feat/{dataset_type}"
    return len(DatasetFiles(root).load(arn))


def test_events_change_recommendations(personalize, clients, feat, tmp_path_factory):
    events, runtime = clients["personalize-events"], clients["personalize-runtime"]
    tracker = personalize.create_event_tracker(name="feat-tracker", datasetGroupArn=feat["group"])
    assert len(tracker["trackingId"]) == 36 and tracker["trackingId"].count("-") == 4
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.create_event_tracker(name="feat-tracker-2", datasetGroupArn=feat["group"])
    wait_for(
        lambda: personalize.describe_event_tracker(eventTrackerArn=tracker["eventTrackerArn"])["eventTracker"]
    )
    assert [
        t["eventTrackerArn"]
        for t in personalize.list_event_trackers(datasetGroupArn=feat["group"])["eventTrackers"]
    ] == [tracker["eventTrackerArn"]]
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.put_events(
            trackingId="00000000-0000-0000-0000-000000000000",
            userId="u1",
            sessionId="s",
            eventList=[{"eventType": "click", "itemId": "i3", "sentAt": time.time()}],
        )

    campaign = feat["campaigns"]["aws-user-personalization"]

    def top():
        return [
            e["itemId"]
            for e in runtime.get_recommendations(campaignArn=campaign, userId="u1", numResults=10)["itemList"]
        ]

    before, rows_before = top(), stored_rows(tmp_path_factory, "INTERACTIONS")
    assert sum(cluster(i) == 1 for i in before) >= 7
    new = [
        {
            "eventId": f"e{n}",
            "eventType": "purchase",
            "itemId": f"i{4 * n + 3}",
            "sentAt": time.time(),
            "properties": json.dumps({"eventValue": 3.0}),
        }
        for n in range(10)
    ]
    for start in range(0, 30, 10):  # the same ten events a few times: ids already seen are not used again
        events.put_events(
            trackingId=tracker["trackingId"],
            userId="u1",
            sessionId="s1",
            eventList=new[start : start + 10] or new,
        )
    after = top()
    assert after != before and sum(cluster(i) == 3 for i in after) > sum(cluster(i) == 3 for i in before)
    events.put_events(trackingId=tracker["trackingId"], userId="u1", sessionId="s1", eventList=new)
    assert top() == after  # repeated eventIds change nothing
    assert stored_rows(tmp_path_factory, "INTERACTIONS") == rows_before + 10
    with pytest.raises(events.exceptions.InvalidInputException):
        events.put_events(
            trackingId=tracker["trackingId"],
            userId="u1",
            sessionId="s1",
            eventList=[{"eventType": "click", "sentAt": time.time()}],
        )  # no itemId

    events.put_items(
        datasetArn=feat["items"],
        items=[
            {"itemId": "i500", "properties": json.dumps({"category": "c9", "price": 1.5})},
            {"itemId": "i0", "properties": json.dumps({"category": "c0", "price": 2.5})},
        ],
    )
    assert stored_rows(tmp_path_factory, "ITEMS") == 121  # i0 replaced, i500 added
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.put_users(
            datasetArn=feat["items"].replace("/ITEMS", "/USERS"), users=[{"userId": "u1", "properties": "{}"}]
        )
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.delete_dataset_group(datasetGroupArn=feat["group"])


def test_related_ranking_and_trending_recipes(personalize, clients, bucket, feat):
    runtime, campaigns = clients["personalize-runtime"], feat["campaigns"]
    for recipe in ("aws-sims", "aws-similar-items"):
        items = runtime.get_recommendations(campaignArn=campaigns[recipe], itemId="i1", numResults=10)[
            "itemList"
        ]
        assert len(items) == 10 and all("score" not in e for e in items)
        assert "i1" not in {e["itemId"] for e in items}
        assert sum(cluster(e["itemId"]) == 1 for e in items) >= 6, (recipe, items)
    similar = runtime.get_recommendations(campaignArn=campaigns["aws-similar-items"], itemId="i1")["itemList"]
    assert all(cluster(e["itemId"]) == 1 for e in similar[:10])
    ranked = runtime.get_personalized_ranking(
        campaignArn=campaigns["aws-personalized-ranking"], userId="u1", inputList=["i2", "nope", "i5", "i9"]
    )["personalizedRanking"]
    assert [e["itemId"] for e in ranked][-1] == "nope" and "score" not in ranked[-1]
    assert {e["itemId"] for e in ranked[:2]} == {"i5", "i9"}
    with pytest.raises(runtime.exceptions.InvalidInputException):
        runtime.get_recommendations(campaignArn=campaigns["aws-personalized-ranking"], userId="u1")
    trending = runtime.get_recommendations(campaignArn=campaigns["aws-trending-now"], userId="u1")["itemList"]
    assert trending and all("score" not in e for e in trending)
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_batch_inference_job(
            jobName="feat-trending",
            solutionVersionArn=feat["versions"]["aws-trending-now"],
            roleArn=ROLE,
            jobInput={"s3DataSource": {"path": f"s3://{bucket}/x"}},
            jobOutput={"s3DataDestination": {"path": f"s3://{bucket}/y/"}},
        )
    out = run_batch(
        personalize,
        clients,
        bucket,
        personalize.create_batch_inference_job,
        inference_describer(personalize),
        "feat-sims",
        feat["versions"]["aws-sims"],
        ['{"itemId": "i2"}', '{"userId": "u1"}'],
        numResults=5,
    )
    assert len(out[0]["output"]["recommendedItems"]) == 5 and "scores" not in out[0]["output"]
    assert "itemId" in out[1]["error"]
    metrics = personalize.get_solution_metrics(solutionVersionArn=feat["versions"]["aws-sims"])["metrics"]
    assert metrics["precision_at_10"] > 0


@pytest.mark.parametrize("recipe", ["aws-item-affinity", "aws-item-attribute-affinity"])
def test_segmentation_versions_report_segment_metrics(personalize, feat, recipe):
    metrics = personalize.get_solution_metrics(solutionVersionArn=feat["versions"][recipe])["metrics"]
    assert set(metrics) == {"coverage", "hit_at_k", "recall_at_k"}
    assert metrics["hit_at_k"] > 0 and 0 < metrics["recall_at_k"] <= 1 and 0 < metrics["coverage"] <= 1


def test_batch_segment_jobs(personalize, clients, bucket, feat):
    def describe(arn):
        return personalize.describe_batch_segment_job(batchSegmentJobArn=arn)["batchSegmentJob"]

    out = run_batch(
        personalize,
        clients,
        bucket,
        personalize.create_batch_segment_job,
        describe,
        "feat-seg",
        feat["versions"]["aws-item-affinity"],
        ['{"itemId": "i2"}', '{"itemId": "zz"}'],
        numResults=10,
    )
    users = out[0]["output"]["recommendedUsers"]
    assert len(users) == 10 and sum(cluster(u) == 2 for u in users) >= 8
    assert out[1]["output"] is None and out[1]["error"]
    out = run_batch(
        personalize,
        clients,
        bucket,
        personalize.create_batch_segment_job,
        describe,
        "feat-attr-seg",
        feat["versions"]["aws-item-attribute-affinity"],
        [json.dumps({"itemAttributes": 'ITEMS.CATEGORY = "c3"'})],
        numResults=10,
    )
    assert sum(cluster(u) == 3 for u in out[0]["output"]["recommendedUsers"]) >= 8
    listed = personalize.list_batch_segment_jobs(solutionVersionArn=feat["versions"]["aws-item-affinity"])[
        "batchSegmentJobs"
    ]
    assert [j["jobName"] for j in listed] == ["feat-seg"]
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_batch_segment_job(
            jobName="feat-bad-seg",
            solutionVersionArn=feat["versions"]["aws-sims"],
            roleArn=ROLE,
            jobInput={"s3DataSource": {"path": f"s3://{bucket}/x"}},
            jobOutput={"s3DataDestination": {"path": f"s3://{bucket}/y/"}},
        )


def test_batch_segment_job_applies_a_user_id_filter(personalize, clients, bucket, feat):
    import pandas as pd

    interactions = pd.read_csv(io.StringIO(synthetic_interactions_csv()))
    buyers = set(interactions.loc[interactions["EVENT_TYPE"] == "purchase", "USER_ID"])
    expression = 'EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("purchase")'
    no_buyers = make_filter(personalize, feat["group"], "feat-no-buyers", expression)
    out = run_batch(
        personalize,
        clients,
        bucket,
        personalize.create_batch_segment_job,
        lambda arn: personalize.describe_batch_segment_job(batchSegmentJobArn=arn)["batchSegmentJob"],
        "feat-seg-filtered",
        feat["versions"]["aws-item-affinity"],
        ['{"itemId": "i2"}'],
        numResults=10,
        filterArn=no_buyers,
    )
    users = out[0]["output"]["recommendedUsers"]
    assert len(users) == 10 and not set(users) & buyers


def test_tags(personalize):
    team = {"tagKey": "team", "tagValue": "recs"}
    arn = personalize.create_dataset_group(name="tagged", tags=[team])["datasetGroupArn"]
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == [team]
    personalize.tag_resource(resourceArn=arn, tags=[{"tagKey": "env", "tagValue": "dev"}])
    personalize.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"tagKey": "env", "tagValue": "dev"}
    ]
    assert "tags" not in personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]
    with pytest.raises(personalize.exceptions.TooManyTagsException):
        personalize.tag_resource(
            resourceArn=arn, tags=[{"tagKey": f"k{i}", "tagValue": "v"} for i in range(50)]
        )
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.list_tags_for_resource(resourceArn=arn + "-nope")
