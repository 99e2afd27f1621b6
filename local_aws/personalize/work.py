"""Job bodies: the background work of imports, trainings and batch jobs.

``JobRunner`` runs one between IN_PROGRESS and ACTIVE: the fields it returns
go on the record, a ``JobFailure`` becomes the failureReason. Handlers have
already checked the request and written the record; they bind a body's
arguments with ``functools.partial``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from . import batch, checks
from .filtering import FilterContext, values_key
from .imports import DatasetFiles, read_location, validate
from .jobs import Work
from .recipes import recipe_name
from .resources import Resources
from .schemas import parse_schema
from .segments import segment_lines
from .state import ACTIVE, CREATE_FAILED, UPDATE_IN_PROGRESS, dataset_arn, now
from .training import Interactions, TrainingConfig, prepare, train


def body_for(res: Resources, kind: str, record: dict[str, Any]) -> Work | None:
    """The job body of a created record, from what the record holds: how a handler starts it and
    how a restart starts it again. None for kinds without work (a status chain only)."""
    if kind == "dataset-import-job":
        dataset = res.store.get("dataset", record["datasetArn"])
        schema = res.store.get("schema", dataset["schemaArn"])
        return partial(import_dataset, res, dataset, schema, record["dataSource"]["dataLocation"],
                       record["importMode"])
    if kind == "solution-version":
        return partial(train_version, res, record["solutionVersionArn"], record["datasetGroupArn"],
                       training_config(record), record["trainingMode"], record.get("_previousVersionArn"))
    if kind == "batch-inference-job":
        return partial(batch_inference, res, record["solutionVersionArn"], record.get("filterArn"),
                       *job_paths(record), record["numResults"])
    if kind == "batch-segment-job":
        group = res.store.get("solution-version", record["solutionVersionArn"])["datasetGroupArn"]
        return partial(batch_segments, res, record["solutionVersionArn"], group, record.get("filterArn"),
                       *job_paths(record), record["numResults"])
    return None


def training_config(record: dict[str, Any]) -> TrainingConfig:
    """How a solution (or a version, which copies its solution's settings) trains."""
    config = record.get("solutionConfig") or {}
    return TrainingConfig(
        recipe=recipe_name(record["recipeArn"]), event_type=record.get("eventType"),
        event_value_threshold=checks.event_value_threshold(config.get("eventValueThreshold")),
        hyper=dict(config.get("algorithmHyperParameters") or {}))


def job_paths(record: dict[str, Any]) -> tuple[str, str]:
    """(input, output) S3 locations of a batch job request or record."""
    return record["jobInput"]["s3DataSource"]["path"], record["jobOutput"]["s3DataDestination"]["path"]


CAMPAIGN_UPDATE_STEPS = 2  # as long as a creation: PENDING -> IN_PROGRESS -> ACTIVE


def deploy_campaign_update(res: Resources, campaign_arn: str) -> None:
    """Finish the campaign's update in progress a few status steps from now."""
    res.jobs.later(CAMPAIGN_UPDATE_STEPS, partial(finish_campaign_update, res, campaign_arn))


def finish_campaign_update(res: Resources, campaign_arn: str) -> None:
    """The update deployed: the campaign serves what ``latestCampaignUpdate`` asked for from now on."""
    store = res.store
    with store.locked():
        if not store.exists("campaign", campaign_arn):
            return
        campaign = store.get("campaign", campaign_arn)
        update = dict(campaign.get("latestCampaignUpdate") or {})
        if update.get("status") != UPDATE_IN_PROGRESS:
            return
        if not store.exists("solution-version", update["solutionVersionArn"]):
            update.update(status=CREATE_FAILED, lastUpdatedDateTime=now(),
                          failureReason="The solution version was deleted during the update.")
            store.update("campaign", campaign_arn, latestCampaignUpdate=update)
            return
        update.update(status=ACTIVE, lastUpdatedDateTime=now())
        deployed = {key: update[key] for key in ("solutionVersionArn", "minProvisionedTPS", "campaignConfig")
                    if key in update}
        store.update("campaign", campaign_arn, **deployed, status=ACTIVE, failureReason=None,
                     latestCampaignUpdate=update)


def import_dataset(res: Resources, dataset: dict[str, Any], schema: dict[str, Any], location: str,
                   mode: str) -> None:
    """Read the CSVs at ``location``, check them and merge them into the dataset's file."""
    fields = parse_schema(schema["schema"])
    frame = read_location(res.s3, location, fields)
    validate(frame, dataset["datasetType"])
    res.files.save(dataset["datasetArn"], frame, mode)


def train_version(res: Resources, arn: str, group: str, config: TrainingConfig, mode: str,
                  previous_arn: str | None) -> dict[str, Any]:
    """Train the solution version on its group's data; UPDATE builds on ``previous_arn``."""
    started = time.monotonic()
    previous_model = res.load_model(previous_arn) if mode == "UPDATE" else None
    items = res.files.load(dataset_arn(group, "ITEMS")) if config.recipe == "aws-similar-items" else None
    interactions = dataset_arn(group, "INTERACTIONS")
    if mode == "UPDATE":  # keeps the previous model's item order: prepared for this version alone
        model, metrics = train(res.files.load(interactions), config, mode, previous_model, items)
    else:
        model, metrics = train(None, config, mode, items=items,
                               prepared=partial(prepared_interactions, res.files, interactions))
    model.save(res.model_path(arn))
    if metrics is None:  # UPDATE keeps the metrics of the version it builds on
        metrics = res.store.get("solution-version", previous_arn).get("_metrics", {})
    return {"trainingHours": round((time.monotonic() - started) / 3600, 6), "_metrics": metrics}


_PREPARERS: dict[tuple, Callable] = {}  # one per (event type, value threshold): the files' cache key


def prepared_interactions(files: DatasetFiles, interactions_arn: str, config: TrainingConfig) -> Interactions:
    """The interactions as ``training.prepare`` makes them for ``config``, parsed once per version of
    the data: the solutions of a group (and the popularity baseline) train on the same file."""
    key = (config.event_type, config.event_value_threshold)
    derive = _PREPARERS.setdefault(key, partial(_prepare, *key))
    data = files.cached(interactions_arn, derive)
    return data if data is not None else prepare(None, config)  # no data: prepare says so


def _prepare(event_type: str | None, threshold: float | None, frame) -> Interactions:
    return prepare(frame, TrainingConfig(recipe="", event_type=event_type, event_value_threshold=threshold))


def remove_models(res: Resources, version_arns: set[str]) -> None:
    for version in version_arns:
        res.model_path(version).unlink(missing_ok=True)


def batch_inference(res: Resources, version_arn: str, filter_arn: str | None, input_uri: str,
                    output_uri: str, k: int) -> None:
    """Recommendations for every input line; a filter that fails for a line becomes that line's error."""
    model = res.load_model(version_arn)
    contexts: dict[str, FilterContext] = {}  # one per distinct filterValues

    def context_for(query: dict) -> FilterContext:
        key = values_key(query.get("filterValues"))
        if key not in contexts:
            record = checks.active_filter(res.store, filter_arn)
            contexts[key] = FilterContext(res.files, record, query.get("filterValues"))
        return contexts[key]

    batch.run(res.s3, input_uri, output_uri,
              lambda lines: batch.score_lines(model, lines, k, context_for if filter_arn else None))


def batch_segments(res: Resources, version_arn: str, group: str, filter_arn: str | None, input_uri: str,
                   output_uri: str, k: int) -> None:
    """User segments for every input line, narrowed by a UserID filter when the job has one."""
    model = res.load_model(version_arn)
    masks: dict[str, np.ndarray] = {}  # one per distinct filterValues

    def user_mask_for(query: dict) -> np.ndarray:
        key = values_key(query.get("filterValues"))
        if key not in masks:
            record = checks.active_filter(res.store, filter_arn)
            context = FilterContext(res.files, record, query.get("filterValues"), target="UserID")
            masks[key] = context.user_mask(model.user_ids)
        return masks[key]

    batch.run(res.s3, input_uri, output_uri, lambda lines: segment_lines(
        res.files, model, group, lines, k, user_mask_for if filter_arn else None))
