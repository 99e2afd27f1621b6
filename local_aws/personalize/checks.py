"""Request checks: what a request, and the records it names, must satisfy before anything changes.

Each raises the service's own error type; nothing here writes state. Handlers
run them first (state-dependent ones with the store lock held), then change
state, then start the job body.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from . import queries
from .errors import (
    InvalidInput,
    JobFailure,
    LimitExceeded,
    ResourceAlreadyExists,
    ResourceInUse,
    ResourceNotFound,
    TooManyTags,
)
from .imports import convert_column
from .recipes import recipe_name
from .schemas import DATASET_TYPES, Field
from .scoring import Model
from .segments import RECIPES as SEGMENT_RECIPES
from .state import ACTIVE, BUSY_STATUSES, CREATE_FAILED, UPDATE_IN_PROGRESS, Store, dataset_arn
from .training import ALS_RECIPES

MAX_TAGS = 50
MAX_FILTERS_PER_GROUP = 10


def num_results(params: dict[str, Any], most: int, message: str) -> int:
    k = params.get("numResults", 25)
    if not 1 <= k <= most:
        raise InvalidInput(message)
    return k


def s3_location(name: str, uri: str) -> None:
    if not uri.startswith("s3://"):
        raise InvalidInput(f"{name} must be an s3:// location, got {uri!r}.")


def require_active(record: dict[str, Any], what: str, arn_key: str, show_status: bool = True) -> None:
    """ResourceInUse unless ``record`` is ACTIVE; ``what`` names its kind in the message."""
    if record["status"] != ACTIVE:
        status = f" (status: {record['status']})" if show_status else ""
        raise ResourceInUse(f"{what} {record[arn_key]} is not ACTIVE{status}.")


def in_status(record: dict[str, Any], what: str, arn_key: str, action: str, allowed: tuple[str, ...]) -> None:
    """ResourceInUse unless ``record`` is in one of the ``allowed`` statuses for ``action``."""
    if record["status"] not in allowed:
        raise ResourceInUse(f"{what} {record[arn_key]} cannot be {action} in status {record['status']}.")


def require_idle(record: dict[str, Any], what: str, arn_key: str) -> None:
    """ResourceInUse while ``record`` is being created or deleted."""
    if record["status"] in BUSY_STATUSES:
        raise ResourceInUse(f"{what} {record[arn_key]} is in status {record['status']}.")


def no_campaign_update(campaign: dict[str, Any]) -> None:
    """ResourceInUse while the campaign's previous update is still deploying."""
    update = campaign.get("latestCampaignUpdate") or {}
    if update.get("status") == UPDATE_IN_PROGRESS:
        raise ResourceInUse(f"Campaign {campaign['campaignArn']} is being updated to "
                            f"{update.get('solutionVersionArn')}; wait for that update to finish.")


def not_in_use(message: str, dependents: list[str]) -> None:
    """ResourceInUse naming the resources that still depend on the one to delete."""
    if dependents:
        raise ResourceInUse(message + ", ".join(dependents))


def no_work_in_progress(what: str, records: list[dict[str, Any]],
                        doing: str = "has work in progress") -> None:
    """ResourceInUse while any of ``records`` (the resource and its jobs) is busy."""
    if any(r["status"] in BUSY_STATUSES for r in records):
        raise ResourceInUse(f"{what} {doing}.")


def unused_name(same_name_arns: list[str]) -> None:
    if same_name_arns:
        raise ResourceAlreadyExists(same_name_arns[0])


def dataset_type(requested: str) -> str:
    dataset_type = requested.upper()
    if dataset_type not in DATASET_TYPES:
        raise InvalidInput(f"datasetType must be one of {list(DATASET_TYPES)}, got {requested!r}.")
    return dataset_type


def data_location(params: dict[str, Any]) -> str:
    location = (params.get("dataSource") or {}).get("dataLocation")
    if not location:
        raise InvalidInput("Missing required parameter dataSource.dataLocation.")
    s3_location("dataSource.dataLocation", location)
    return location


def new_job(store: Store, kind: str, arn: str, limit: int) -> None:
    """A job name is used once, and a region runs at most ``limit`` pending/in-progress jobs of a kind.

    Call with the store lock held.
    """
    if store.exists(kind, arn):
        raise ResourceAlreadyExists(arn)
    if store.count(kind, lambda r: r.get("status") in BUSY_STATUSES) >= limit:
        raise LimitExceeded(f"More than {limit} resources with PENDING or IN_PROGRESS status.")


def dataset_group_limit(store: Store, limit: int) -> None:
    """At most ``limit`` dataset groups that exist and did not fail. Call with the store lock held."""
    if store.count("dataset-group", lambda r: r.get("status") != CREATE_FAILED) >= limit:
        raise LimitExceeded(f"The account already has {limit} active dataset groups, its limit; "
                            "delete one or ask for a higher quota.")


def check_tags(tags: list[dict[str, str]], existing: dict[str, str] | None = None) -> dict[str, str]:
    """The merged tag map, at most ``MAX_TAGS`` entries."""
    merged = {**(existing or {}), **{t["tagKey"]: t.get("tagValue", "") for t in tags}}
    if len(merged) > MAX_TAGS:
        raise TooManyTags(f"A resource can have at most {MAX_TAGS} tags.")
    return merged


def tags_field(params: dict[str, Any]) -> dict[str, Any]:
    """Tags given on Create*, for the record's hidden ``_tags`` field (see ``handlers.tags``)."""
    return {"_tags": check_tags(params["tags"])} if params.get("tags") else {}


def active_filter(store: Store, filter_arn: str, group_arn: str | None = None) -> dict[str, Any]:
    """The filter's record; it must be ACTIVE and, when ``group_arn`` is given, belong to that group."""
    record = store.get("filter", filter_arn)
    require_active(record, "Filter", "filterArn")
    if group_arn and record["datasetGroupArn"] != group_arn:
        raise InvalidInput(f"Filter {filter_arn} belongs to another dataset group.")
    return record


def inference_recipe(version: dict[str, Any]) -> None:
    """Batch inference needs a version that recommends items (segment recipes make user lists)."""
    if version["recipeArn"].endswith("/aws-trending-now"):
        raise InvalidInput("Batch inference is not supported for solutions trained with aws-trending-now.")
    if version["recipeArn"].endswith(tuple("/" + recipe for recipe in SEGMENT_RECIPES)):
        raise InvalidInput("This solution version makes user segments; use CreateBatchSegmentJob.")


def segment_recipe(version: dict[str, Any]) -> None:
    recipe = version["recipeArn"].rsplit("/", 1)[-1]
    if recipe not in SEGMENT_RECIPES:
        raise InvalidInput(f"Batch segment jobs need an {' or '.join(SEGMENT_RECIPES)} solution version; "
                           f"this one uses {recipe}.")


def recipe(recipe_arn: str) -> str:
    """The recipe's name; ResourceNotFound for an ARN outside the catalogue."""
    name = recipe_name(recipe_arn)
    if name is None:
        raise ResourceNotFound(f"Could not find recipe {recipe_arn}.")
    return name


def no_auto_ml(params: dict[str, Any]) -> None:
    if params.get("performAutoML"):
        raise InvalidInput("performAutoML is not supported; pass a recipeArn.")


def training_mode(params: dict[str, Any]) -> str:
    mode = params.get("trainingMode", "FULL")
    if mode == "AUTOTRAIN":
        raise InvalidInput("trainingMode AUTOTRAIN is set by the service, not by callers.")
    return mode


def new_training(store: Store, solution: dict[str, Any], versions: list[dict[str, Any]],
                 limit: int) -> None:
    """One training per solution at a time, at most ``limit`` in the region."""
    if any(v["status"] in BUSY_STATUSES for v in versions):
        raise ResourceInUse(f"Solution {solution['solutionArn']} already has a version in training.")
    if store.count("solution-version", lambda r: r["status"] in BUSY_STATUSES) >= limit:
        raise LimitExceeded(f"More than {limit} solution versions in training.")


def update_training(mode: str, recipe: str | None, previous: dict[str, Any] | None) -> None:
    """UPDATE refits users on a user-personalization model, so it needs an ACTIVE version to build on."""
    if mode == "UPDATE" and (recipe not in ALS_RECIPES or previous is None):
        raise InvalidInput("trainingMode UPDATE needs a user-personalization solution with an "
                           "ACTIVE solution version.")


def filter_limit(store: Store, group_arn: str) -> None:
    if store.count("filter", lambda r: r["datasetGroupArn"] == group_arn) >= MAX_FILTERS_PER_GROUP:
        raise LimitExceeded(f"A dataset group can have at most {MAX_FILTERS_PER_GROUP} filters.")


def no_event_tracker(store: Store, group_arn: str) -> None:
    """A dataset group has at most one event tracker."""
    if store.list("event-tracker", lambda r: r["datasetGroupArn"] == group_arn):
        raise ResourceInUse(f"Dataset group {group_arn} already has an event tracker.")


def active_tracker(store: Store, tracking_id: str) -> dict[str, Any]:
    trackers = store.list("event-tracker", lambda r: r["trackingId"] == tracking_id)
    if not trackers or trackers[0]["status"] != ACTIVE:
        raise ResourceNotFound(f"Could not find an active event tracker with trackingId {tracking_id}.")
    return trackers[0]


def interactions_dataset(store: Store, group_arn: str) -> str:
    """The ARN of the group's Interactions dataset, which must exist."""
    arn = dataset_arn(group_arn, "INTERACTIONS")
    if not store.exists("dataset", arn):
        raise ResourceNotFound(f"Dataset group {group_arn} has no Interactions dataset.")
    return arn


def active_campaign(store: Store, campaign_arn: str | None) -> dict[str, Any]:
    """The campaign a runtime request names; ResourceNotFound unless it exists and is ACTIVE."""
    if not campaign_arn:
        raise InvalidInput("campaignArn is required (recommenders are not supported locally).")
    if not store.exists("campaign", campaign_arn):
        raise ResourceNotFound(f"Could not find campaign {campaign_arn}.")
    campaign = store.get("campaign", campaign_arn)
    if campaign["status"] != ACTIVE:
        raise ResourceNotFound(f"Campaign {campaign_arn} is not ACTIVE (status: {campaign['status']}).")
    return campaign


def recommendation_query(model: Model, query: dict[str, Any]) -> None:
    """GetRecommendations asks what the campaign's model can answer (not a ranking)."""
    if queries.kind(model) == "ranking":
        raise InvalidInput("A personalized-ranking campaign answers GetPersonalizedRanking only.")
    error = queries.check(model, query)
    if error:
        raise InvalidInput(error.replace("Line has", "The request has"))


def event_value_threshold(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise InvalidInput(f"eventValueThreshold must be a number, got {value!r}.") from exc


def properties(raw: str | None) -> dict[str, Any]:
    """The ``properties`` JSON string of an event, item or user."""
    if not raw:
        return {}
    try:
        props = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"properties must be a JSON object string: {exc.msg}.") from exc
    if not isinstance(props, dict):
        raise InvalidInput("properties must be a JSON object string.")
    return props


def typed_records(fields: list[Field], rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Records of the events API typed by the dataset's schema, by the same rules as an import."""
    columns = {}
    for field in fields:
        values = [next((v for k, v in row.items() if _norm(k) == _norm(field.name)), None) for row in rows]
        text = pd.Series([_cell(v) for v in values], dtype=str)
        try:
            columns[field.name] = convert_column(text, field, "the request")
        except JobFailure as exc:
            raise InvalidInput(exc.args[0]) from exc
    return pd.DataFrame(columns)


def _cell(value: Any) -> str:
    """A property value as CSV text: booleans lowercase, lists joined with |."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return "|".join(map(str, value)) if isinstance(value, list) else str(value)


def _norm(name: str) -> str:
    return name.replace("_", "").lower()
