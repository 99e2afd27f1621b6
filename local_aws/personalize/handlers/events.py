"""Event trackers and the events API (PutEvents, PutItems, PutUsers).

Records are appended to the datasets' logs (typed through the import path, so
the same rules apply; see ``imports.DatasetFiles``). New events of a user the campaign's model knows are also
kept in ``live.LiveEvents`` so the next GetRecommendations folds them into that
user's factors at once, as the service does for user-personalization campaigns.
"""

from __future__ import annotations

import uuid
from typing import Any

from .. import checks
from ..live import LiveEvents
from ..resources import Resources
from ..schemas import parse_schema
from ..state import CREATE_PENDING
from .common import describe_handler, list_handler

SUMMARY = ("name", "eventTrackerArn", "status", "creationDateTime", "lastUpdatedDateTime")


def append_records(res: Resources, arn: str, rows: list[dict[str, Any]]) -> None:
    """Type ``rows`` by the dataset's schema and append them to the dataset's log (readers
    see same-id items/users replaced); the cost does not grow with the dataset."""
    dataset = res.store.get("dataset", arn)
    checks.require_active(dataset, "Dataset", "datasetArn")
    fields = parse_schema(res.store.get("schema", dataset["schemaArn"])["schema"])
    res.files.append(arn, checks.typed_records(fields, rows))


def handlers(res: Resources) -> dict:
    store = res.store
    live: LiveEvents = res.live

    def create_event_tracker(p, region):
        with store.locked():
            group = store.get("dataset-group", p["datasetGroupArn"])
            checks.require_active(group, "Dataset group", "datasetGroupArn", show_status=False)
            checks.no_event_tracker(store, group["datasetGroupArn"])
            arn = res.arn(region, f"event-tracker/{p['name']}")
            tracking_id = str(uuid.uuid4())
            store.add("event-tracker", arn, {
                "name": p["name"], "eventTrackerArn": arn, "accountId": res.account,
                "trackingId": tracking_id,
                "datasetGroupArn": group["datasetGroupArn"], "status": CREATE_PENDING,
                **checks.tags_field(p)})
        res.jobs.start("event-tracker", arn)
        return {"eventTrackerArn": arn, "trackingId": tracking_id}

    describe_event_tracker = describe_handler(store, "event-tracker", "eventTrackerArn", "eventTracker")

    list_event_trackers = list_handler(store, "event-tracker", "eventTrackers", SUMMARY, "datasetGroupArn")

    def delete_event_tracker(p, region):
        record = store.get("event-tracker", p["eventTrackerArn"])
        checks.require_idle(record, "Event tracker", "eventTrackerArn")
        res.jobs.delete_later("event-tracker", p["eventTrackerArn"])

    def put_events(p, region):
        group = checks.active_tracker(store, p["trackingId"])["datasetGroupArn"]
        target = checks.interactions_dataset(store, group)
        user = p.get("userId") or p["sessionId"]
        rows, items = [], []
        for event in p["eventList"]:
            if not live.first_time(p["trackingId"], event.get("eventId") or str(uuid.uuid4())):
                continue
            rows.append({**checks.properties(event.get("properties")), "USER_ID": user,
                         "ITEM_ID": event.get("itemId"),
                         "TIMESTAMP": int(event["sentAt"]), "EVENT_TYPE": event["eventType"],
                         "EVENT_VALUE": event.get("eventValue"),
                         "RECOMMENDATION_ID": event.get("recommendationId"),
                         "IMPRESSION": event.get("impression")})
            if event.get("itemId"):
                items.append(event["itemId"])
        if rows:
            append_records(res, target, rows)
            live.add(group, user, items)

    def put_records(id_key: str, list_key: str):
        def put(p, region):
            append_records(res, p["datasetArn"], [
                {**checks.properties(r.get("properties")), id_key.upper().replace("ID", "_ID"): r[id_key]}
                for r in p[list_key]])
        return put

    ops = {
        ("personalize", "CreateEventTracker"): create_event_tracker,
        ("personalize", "DescribeEventTracker"): describe_event_tracker,
        ("personalize", "ListEventTrackers"): list_event_trackers,
        ("personalize", "DeleteEventTracker"): delete_event_tracker,
        ("personalize-events", "PutEvents"): put_events,
        ("personalize-events", "PutItems"): put_records("itemId", "items"),
        ("personalize-events", "PutUsers"): put_records("userId", "users"),
    }
    return ops
