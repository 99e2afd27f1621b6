"""Records imported individually (PutEvents) and filter parameters, over real HTTP with boto3."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from conftest import active_solution, trained_version
from test_local_aws_features import ITEMS_SCHEMA, inference_describer, make_filter, run_batch

from local_aws.testing import synthetic_interactions_csv, wait_for

USERS_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Users",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "TIER", "type": "string", "categorical": True},
        ],
    }
)
EXCLUDE_PURCHASED = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")'
ALL_ITEMS = 120  # synthetic_interactions_csv's catalogue


def add_dataset(personalize, import_csv, group: str, name: str, dataset_type: str, schema: str, body: str):
    schema_arn = personalize.create_schema(name=name, schema=schema)["schemaArn"]
    arn = personalize.create_dataset(
        name=name, datasetGroupArn=group, schemaArn=schema_arn, datasetType=dataset_type
    )["datasetArn"]
    wait_for(lambda: personalize.describe_dataset(datasetArn=arn)["dataset"])
    assert import_csv(arn, f"{name}-import", body)["status"] == "ACTIVE"
    return arn


@pytest.fixture(scope="module")
def ind(personalize, make_dataset, import_csv):
    """A group with interactions, users (even users "gold", odd "basic") and items (CATEGORY c0..c3,
    PRICE = item number), a popularity-count campaign (one list for everyone), an event tracker."""
    group, interactions = make_dataset("ind")
    assert import_csv(interactions, "ind-import", synthetic_interactions_csv())["status"] == "ACTIVE"
    tiers = "".join(f"u{u},{'gold' if u % 2 == 0 else 'basic'}\n" for u in range(100))
    add_dataset(personalize, import_csv, group, "ind-users", "USERS", USERS_SCHEMA, "USER_ID,TIER\n" + tiers)
    catalogue = "".join(f"i{i},c{i % 4},{i}.0\n" for i in range(ALL_ITEMS))
    items = add_dataset(
        personalize,
        import_csv,
        group,
        "ind-items",
        "ITEMS",
        ITEMS_SCHEMA,
        "ITEM_ID,CATEGORY,PRICE\n" + catalogue,
    )
    version = trained_version(personalize, active_solution(personalize, group, "ind", "aws-popularity-count"))
    campaign = personalize.create_campaign(name="ind", solutionVersionArn=version)["campaignArn"]
    tracker = personalize.create_event_tracker(name="ind", datasetGroupArn=group)
    wait_for(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"])
    wait_for(
        lambda: personalize.describe_event_tracker(eventTrackerArn=tracker["eventTrackerArn"])["eventTracker"]
    )
    return {
        "group": group,
        "interactions": interactions,
        "items": items,
        "version": version,
        "campaign": campaign,
        "tracking_id": tracker["trackingId"],
    }


def recommended(clients, ind, user: str, **extra) -> list[str]:
    items = clients["personalize-runtime"].get_recommendations(
        campaignArn=ind["campaign"], userId=user, numResults=ALL_ITEMS, **extra
    )["itemList"]
    return [e["itemId"] for e in items]


def purchases(csv_text: str, user: str) -> set[str]:
    rows = csv.DictReader(io.StringIO(csv_text))
    return {r["ITEM_ID"] for r in rows if r["USER_ID"] == user and r["EVENT_TYPE"] == "purchase"}


def test_a_full_import_keeps_the_events_recorded_with_put_events(personalize, clients, ind, import_csv):
    """FULL replaces the bulk data only: "Data you imported individually is not replaced"."""
    exclude = make_filter(personalize, ind["group"], "ind-purchased", EXCLUDE_PURCHASED)
    first, second = synthetic_interactions_csv(), synthetic_interactions_csv(seed=8)
    only_first = purchases(first, "u1") - purchases(second, "u1")
    live = next(
        f"i{i}" for i in range(ALL_ITEMS) if f"i{i}" not in purchases(first, "u1") | purchases(second, "u1")
    )
    assert only_first and live in recommended(clients, ind, "u1", filterArn=exclude)
    clients["personalize-events"].put_events(
        trackingId=ind["tracking_id"],
        userId="u1",
        sessionId="s1",
        eventList=[{"eventType": "purchase", "itemId": live, "sentAt": time.time()}],
    )
    allowed = recommended(clients, ind, "u1", filterArn=exclude)
    assert live not in allowed and not only_first & set(allowed)

    assert import_csv(ind["interactions"], "ind-full-again", second)["status"] == "ACTIVE"
    allowed = recommended(clients, ind, "u1", filterArn=exclude)
    assert live not in allowed  # the event sent with PutEvents is still there
    assert only_first <= set(allowed)  # the first bulk import's purchases are gone
    assert not purchases(second, "u1") & set(allowed)


def test_filter_values_bind_the_if_current_user_part(personalize, clients, ind):
    runtime = clients["personalize-runtime"]
    include = make_filter(
        personalize,
        ind["group"],
        "ind-tier-include",
        'INCLUDE ItemID WHERE Items.CATEGORY IN ("c1") IF CurrentUser.TIER IN ($TIER)',
    )
    gold, basic = (
        recommended(clients, ind, user, filterArn=include, filterValues={"TIER": '"gold"'})
        for user in ("u0", "u1")
    )
    assert gold and {int(i[1:]) % 4 for i in gold} == {1}  # the gold user matches the bound value
    assert len(basic) == ALL_ITEMS  # the basic user does not: the clause does not apply
    both = recommended(clients, ind, "u1", filterArn=include, filterValues={"TIER": '"gold","basic"'})
    assert {int(i[1:]) % 4 for i in both} == {1}
    for values in ({}, {"tier": '"gold"'}, {"TIER": "gold"}, {"TIER": ""}):  # missing, wrong case, unquoted
        with pytest.raises(runtime.exceptions.InvalidInputException):
            recommended(clients, ind, "u0", filterArn=include, filterValues=values)

    exclude = make_filter(
        personalize,
        ind["group"],
        "ind-tier-exclude",
        'EXCLUDE ItemID WHERE Items.CATEGORY IN ("c1") IF CurrentUser.TIER IN ($TIER)',
    )
    assert len(recommended(clients, ind, "u0", filterArn=exclude)) == ALL_ITEMS  # no value: that part is off
    kept = recommended(clients, ind, "u0", filterArn=exclude, filterValues={"TIER": '"gold"'})
    assert len(kept) == ALL_ITEMS * 3 // 4 and all(int(i[1:]) % 4 != 1 for i in kept)


def test_a_numeric_parameter_needs_one_number(personalize, clients, ind):
    runtime = clients["personalize-runtime"]
    cheap = make_filter(personalize, ind["group"], "ind-cheap", "INCLUDE ItemID WHERE Items.PRICE < $MAX")
    assert {
        int(i[1:]) for i in recommended(clients, ind, "u2", filterArn=cheap, filterValues={"MAX": "10"})
    } == set(range(10))
    for value in ('"ten"', "1,2"):
        with pytest.raises(runtime.exceptions.InvalidInputException, match="MAX|PRICE"):
            recommended(clients, ind, "u2", filterArn=cheap, filterValues={"MAX": value})


def test_batch_lines_bind_their_filter_values_and_report_bad_ones(personalize, clients, bucket, ind):
    include = make_filter(
        personalize,
        ind["group"],
        "ind-tier-batch",
        "INCLUDE ItemID WHERE Items.CATEGORY IN ($CAT) IF CurrentUser.TIER IN ($TIER)",
    )
    lines = [
        {"userId": "u0", "filterValues": {"CAT": '"c2"', "TIER": '"gold"'}},
        {"userId": "u1", "filterValues": {"CAT": '"c2"', "TIER": '"gold"'}},
        {"userId": "u0", "filterValues": {"CAT": '"c2"'}},
        {"userId": "u0", "filterValues": ['"c2"']},
        {"userId": "u0", "filterValues": {f"P{n}": '"x"' for n in range(26)}},
        {"userId": "u0", "filterValues": {"CAT": 2, "TIER": '"gold"'}},
    ]
    out = run_batch(
        personalize,
        clients,
        bucket,
        personalize.create_batch_inference_job,
        inference_describer(personalize),
        "ind-batch",
        ind["version"],
        [json.dumps(line) for line in lines],
        filterArn=include,
        numResults=10,
    )
    assert {int(i[1:]) % 4 for i in out[0]["output"]["recommendedItems"]} == {2}
    assert len(out[1]["output"]["recommendedItems"]) == 10 and out[1]["error"] is None
    assert [o["output"] for o in out[2:]] == [None] * 4
    assert "$TIER" in out[2]["error"] and "25" in out[4]["error"]
    assert all("filterValues" in o["error"] for o in out[2:])


def test_an_item_put_individually_stays_until_an_import_brings_the_same_id(
    personalize, clients, ind, import_csv
):
    by_category = make_filter(
        personalize, ind["group"], "ind-category", "INCLUDE ItemID WHERE Items.CATEGORY IN ($CAT)"
    )

    def in_category(category: str) -> list[str]:
        return recommended(clients, ind, "u3", filterArn=by_category, filterValues={"CAT": f'"{category}"'})

    clients["personalize-events"].put_items(
        datasetArn=ind["items"],
        items=[{"itemId": "i6", "properties": json.dumps({"category": "c9", "price": 6})}],
    )
    assert in_category("c9") == ["i6"]
    others = "".join(f"i{i},c{i % 4},{i}.0\n" for i in range(ALL_ITEMS) if i != 6)
    assert (
        import_csv(ind["items"], "ind-items-full", "ITEM_ID,CATEGORY,PRICE\n" + others)["status"] == "ACTIVE"
    )
    assert in_category("c9") == ["i6"]  # a FULL import leaves the individual record
    again = "ITEM_ID,CATEGORY,PRICE\n" + "".join(f"i{i},c3,{i}.0\n" for i in range(6, 7))
    assert import_csv(ind["items"], "ind-items-more", again, mode="INCREMENTAL")["status"] == "ACTIVE"
    assert in_category("c9") == [] and "i6" in in_category("c3")  # a newer record with its id replaces it
