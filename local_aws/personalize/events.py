"""Event trackers and the events API (PutEvents, PutItems, PutUsers).

Records are appended to the datasets (typed through the import path, so the
same rules apply). New events of a user the campaign's model knows are also
kept in ``LiveEvents`` so the next GetRecommendations folds them into that
user's factors at once, as the service does for user-personalization campaigns.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import numpy as np
import pandas as pd

from .errors import InvalidInput, JobFailure, ResourceInUse, ResourceNotFound
from .filters import dataset_arn
from .imports import convert_column, merge
from .schemas import parse_schema
from .scoring import Model, fold_in
from .service import PersonalizeService, describe_handler, list_handler
from .state import ACTIVE, BUSY_STATUSES, CREATE_PENDING

SUMMARY = ("name", "eventTrackerArn", "status", "creationDateTime", "lastUpdatedDateTime")
ALPHA = 10.0  # the training default (als_alpha): confidence = 1 + alpha * log1p(weight)


class LiveEvents:
    """New events per (dataset group, user) since the service started, for folding-in."""

    def __init__(self):
        self._lock = threading.Lock()
        self._events: dict[tuple[str, str], list[str]] = {}
        self._event_ids: dict[str, set[str]] = {}
        self._vectors: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def first_time(self, tracker: str, event_id: str) -> bool:
        """False for an eventId this tracker has already taken (it is not used twice)."""
        with self._lock:
            seen = self._event_ids.setdefault(tracker, set())
            if event_id in seen:
                return False
            seen.add(event_id)
            return True

    def add(self, group: str, user: str, items: list[str]) -> None:
        with self._lock:
            self._events.setdefault((group, user), []).extend(items)

    def user_state(self, model: Model, group: str, user: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(factor vector, seen item indices) with new events folded in; None if nothing to fold."""
        with self._lock:
            new = list(self._events.get((group, user), ()))
        row = int(model.user_index([user])[0])
        if not new or row < 0 or model.item_factors is None:
            return None
        key = (id(model), group, user, len(new))
        with self._lock:
            if key in self._vectors:
                return self._vectors[key]
        start, end = model.seen_indptr[row], model.seen_indptr[row + 1]
        items = model.seen_indices[start:end]
        conf = model.seen_data[start:end] if model.seen_data is not None else np.full(len(items), 1 + ALPHA)
        weights = dict(zip(items.tolist(), np.expm1((conf.astype(float) - 1) / ALPHA).tolist(), strict=True))
        lookup = {name: i for i, name in enumerate(model.item_ids.tolist())} if new else {}
        for item in new:
            if item in lookup:  # items the model never saw arrive with the next training
                weights[lookup[item]] = weights.get(lookup[item], 0.0) + 1.0
        cols = np.fromiter(weights, dtype=np.int64, count=len(weights))
        confidence = 1 + ALPHA * np.log1p(np.fromiter(weights.values(), dtype=float, count=len(weights)))
        state = (fold_in(model, cols, confidence), cols)
        with self._lock:
            self._vectors[key] = state
        return state


def _properties(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        props = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"properties must be a JSON object string: {exc.msg}.") from exc
    if not isinstance(props, dict):
        raise InvalidInput("properties must be a JSON object string.")
    return props


def _cell(value: Any) -> str:
    """A property value as CSV text: booleans lowercase, lists joined with |."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return "|".join(map(str, value)) if isinstance(value, list) else str(value)


def _norm(name: str) -> str:
    return name.replace("_", "").lower()


def append_records(svc: PersonalizeService, arn: str, rows: list[dict[str, Any]]) -> None:
    """Type ``rows`` by the dataset's schema and append them (same-id items/users replaced)."""
    dataset = svc.store.get("dataset", arn)
    if dataset["status"] != ACTIVE:
        raise ResourceInUse(f"Dataset {arn} is not ACTIVE (status: {dataset['status']}).")
    fields = parse_schema(svc.store.get("schema", dataset["schemaArn"])["schema"])
    columns = {}
    for field in fields:
        values = [next((v for k, v in row.items() if _norm(k) == _norm(field.name)), None) for row in rows]
        text = pd.Series([_cell(v) for v in values], dtype=str)
        try:
            columns[field.name] = convert_column(text, field, "the request")
        except JobFailure as exc:
            raise InvalidInput(exc.args[0]) from exc
    with svc.files.lock(arn):
        existing = svc.files.load(arn)
        svc.files.save(arn, merge(existing, pd.DataFrame(columns), dataset["datasetType"], "INCREMENTAL"))


def handlers(svc: PersonalizeService) -> dict:
    store = svc.store
    live: LiveEvents = svc.live

    def create_event_tracker(p, region):
        with store.locked():
            group = store.get("dataset-group", p["datasetGroupArn"])
            if group["status"] != ACTIVE:
                raise ResourceInUse(f"Dataset group {group['datasetGroupArn']} is not ACTIVE.")
            if store.list("event-tracker", lambda r: r["datasetGroupArn"] == group["datasetGroupArn"]):
                raise ResourceInUse(f"Dataset group {group['datasetGroupArn']} already has an event tracker.")
            arn = svc.arn(region, f"event-tracker/{p['name']}")
            tracking_id = str(uuid.uuid4())
            store.add("event-tracker", arn, {
                "name": p["name"], "eventTrackerArn": arn, "accountId": svc.account,
                "trackingId": tracking_id,
                "datasetGroupArn": group["datasetGroupArn"], "status": CREATE_PENDING, **svc.tags_field(p)})
        svc.jobs.start("event-tracker", arn)
        return {"eventTrackerArn": arn, "trackingId": tracking_id}

    describe_event_tracker = describe_handler(store, "event-tracker", "eventTrackerArn", "eventTracker")

    list_event_trackers = list_handler(store, "event-tracker", "eventTrackers", SUMMARY, "datasetGroupArn")

    def delete_event_tracker(p, region):
        record = store.get("event-tracker", p["eventTrackerArn"])
        if record["status"] in BUSY_STATUSES:
            raise ResourceInUse(f"Event tracker {p['eventTrackerArn']} is in status {record['status']}.")
        svc.jobs.delete_later("event-tracker", p["eventTrackerArn"])

    def put_events(p, region):
        trackers = store.list("event-tracker", lambda r: r["trackingId"] == p["trackingId"])
        if not trackers or trackers[0]["status"] != ACTIVE:
            raise ResourceNotFound(
                f"Could not find an active event tracker with trackingId {p['trackingId']}.")
        group = trackers[0]["datasetGroupArn"]
        target = dataset_arn(group, "INTERACTIONS")
        if not store.exists("dataset", target):
            raise ResourceNotFound(f"Dataset group {group} has no Interactions dataset.")
        user = p.get("userId") or p["sessionId"]
        rows, items = [], []
        for event in p["eventList"]:
            if not live.first_time(p["trackingId"], event.get("eventId") or str(uuid.uuid4())):
                continue
            rows.append({**_properties(event.get("properties")), "USER_ID": user,
                         "ITEM_ID": event.get("itemId"),
                         "TIMESTAMP": int(event["sentAt"]), "EVENT_TYPE": event["eventType"],
                         "EVENT_VALUE": event.get("eventValue"),
                         "RECOMMENDATION_ID": event.get("recommendationId"),
                         "IMPRESSION": event.get("impression")})
            if event.get("itemId"):
                items.append(event["itemId"])
        if rows:
            append_records(svc, target, rows)
            live.add(group, user, items)

    def put_records(id_key: str, list_key: str):
        def put(p, region):
            append_records(svc, p["datasetArn"], [
                {**_properties(r.get("properties")), id_key.upper().replace("ID", "_ID"): r[id_key]}
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
