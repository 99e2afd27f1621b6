"""Job bodies: the background work of imports, trainings and batch jobs.

``JobRunner`` runs one between IN_PROGRESS and ACTIVE: the fields it returns
go on the record, a ``JobFailure`` becomes the failureReason. Handlers have
already checked the request and written the record; they bind a body's
arguments with ``functools.partial``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from . import batch, checks
from .filtering import FilterContext, values_key
from .imports import merge, read_location, validate
from .resources import Resources
from .schemas import parse_schema
from .segments import segment_lines
from .state import dataset_arn
from .training import TrainingConfig, train


def import_dataset(res: Resources, dataset: dict[str, Any], schema: dict[str, Any], location: str,
                   mode: str) -> None:
    """Read the CSVs at ``location``, check them and merge them into the dataset's file."""
    fields = parse_schema(schema["schema"])
    frame = read_location(res.s3, location, fields)
    validate(frame, dataset["datasetType"])
    with res.files.lock(dataset["datasetArn"]):
        existing = res.files.load(dataset["datasetArn"])
        res.files.save(dataset["datasetArn"], merge(existing, frame, dataset["datasetType"], mode))


def train_version(res: Resources, arn: str, group: str, config: TrainingConfig, mode: str,
                  previous_arn: str | None) -> dict[str, Any]:
    """Train the solution version on its group's data; UPDATE builds on ``previous_arn``."""
    started = time.monotonic()
    previous_model = res.load_model(previous_arn) if mode == "UPDATE" else None
    items = res.files.load(dataset_arn(group, "ITEMS")) if config.recipe == "aws-similar-items" else None
    model, metrics = train(res.files.load(dataset_arn(group, "INTERACTIONS")), config, mode,
                           previous_model, items)
    model.save(res.model_path(arn))
    if metrics is None:  # UPDATE keeps the metrics of the version it builds on
        metrics = res.store.get("solution-version", previous_arn).get("_metrics", {})
    return {"trainingHours": round((time.monotonic() - started) / 3600, 6), "_metrics": metrics}


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
