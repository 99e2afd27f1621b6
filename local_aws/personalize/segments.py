"""Batch segment jobs: users most likely to engage with an item or with items matching attributes.

Both segmentation recipes train the ALS model; a segment is the transpose of its
scores: rank every user by affinity to one item (aws-item-affinity) or to the
mean factor of the items an attribute query selects (aws-item-attribute-affinity).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from . import batch, filters
from .errors import InvalidInput, ResourceAlreadyExists, ResourceInUse, ServiceError
from .scoring import Model
from .service import PersonalizeService, describe_handler, list_handler
from .state import ACTIVE, JOB_PENDING

SUMMARY = ("batchSegmentJobArn", "jobName", "status", "creationDateTime", "lastUpdatedDateTime",
           "failureReason", "solutionVersionArn")
RECIPES = {"aws-item-affinity": "itemId", "aws-item-attribute-affinity": "itemAttributes"}


def top_users(model: Model, vector: np.ndarray, k: int) -> list[str]:
    scores = model.user_factors @ vector
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    return model.user_ids[top[np.argsort(-scores[top], kind="stable")]].tolist()


def segment_lines(svc: PersonalizeService, model: Model, group: str, lines: list[str], k: int) -> list[str]:
    key = RECIPES[model.recipe]
    index = {name: i for i, name in enumerate(model.item_ids.tolist())}
    out = []
    for line in lines:
        if not line.strip():
            continue
        query, error = batch.parse_line(line)
        output = None
        if error is None:
            try:
                output = {"recommendedUsers": _segment(svc, model, group, index, query, key, k)}
            except ServiceError as exc:
                error = exc.message
        out.append(json.dumps({"input": query, "output": output, "error": error}))
    return out


def _segment(svc, model: Model, group: str, index: dict, query: dict[str, Any], key: str,
             k: int) -> list[str]:
    value = query.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"Line has no {key}; this solution makes segments for "
                           f"{'an item' if key == 'itemId' else 'an item attribute query'}.")
    if key == "itemId":
        if value not in index:
            raise InvalidInput(f"Item {value} is not in the training data.")
        return top_users(model, model.item_factors[index[value]], k)
    context = filters.FilterContext(svc, {"datasetGroupArn": group,
                                          "filterExpression": f"INCLUDE ItemID WHERE {value}"}, None)
    matched = np.flatnonzero(context.mask(model.item_ids))
    if not len(matched):
        raise InvalidInput(f"No items match {value}.")
    return top_users(model, model.item_factors[matched].mean(axis=0), k)


def handlers(svc: PersonalizeService) -> dict:
    store = svc.store

    def create_batch_segment_job(p, region):
        k = p.get("numResults", 25)
        if not 1 <= k <= 5_000_000:
            raise InvalidInput("numResults must be at least 1.")
        input_uri = p["jobInput"]["s3DataSource"]["path"]
        output_uri = p["jobOutput"]["s3DataDestination"]["path"]
        if p.get("filterArn"):
            raise InvalidInput("Filters on batch segment jobs are not supported by the local service.")
        with store.locked():
            version = store.get("solution-version", p["solutionVersionArn"])
            if version["status"] != ACTIVE:
                raise ResourceInUse(f"Solution version {version['solutionVersionArn']} is not ACTIVE.")
            recipe = version["recipeArn"].rsplit("/", 1)[-1]
            if recipe not in RECIPES:
                raise InvalidInput(f"Batch segment jobs need an {' or '.join(RECIPES)} solution version; "
                                   f"this one uses {recipe}.")
            arn = svc.arn(region, f"batch-segment-job/{p['jobName']}")
            if store.exists("batch-segment-job", arn):
                raise ResourceAlreadyExists(arn)
            svc.check_busy_limit("batch-segment-job")
            store.add("batch-segment-job", arn, {
                "jobName": p["jobName"], "batchSegmentJobArn": arn, "numResults": k,
                "solutionVersionArn": version["solutionVersionArn"], "jobInput": p["jobInput"],
                "jobOutput": p["jobOutput"], "roleArn": p["roleArn"], "status": JOB_PENDING,
                **svc.tags_field(p)})
        group = version["datasetGroupArn"]

        def work():
            model = svc.load_model(version["solutionVersionArn"])
            batch.run(svc.s3, model, input_uri, output_uri, k,
                      lambda lines: segment_lines(svc, model, group, lines, k))

        svc.jobs.start("batch-segment-job", arn, work, batch_statuses=True)
        return {"batchSegmentJobArn": arn}

    describe_batch_segment_job = describe_handler(
        store, "batch-segment-job", "batchSegmentJobArn", "batchSegmentJob"
    )

    list_batch_segment_jobs = list_handler(
        store, "batch-segment-job", "batchSegmentJobs", SUMMARY, "solutionVersionArn"
    )

    return {
        ("personalize", "CreateBatchSegmentJob"): create_batch_segment_job,
        ("personalize", "DescribeBatchSegmentJob"): describe_batch_segment_job,
        ("personalize", "ListBatchSegmentJobs"): list_batch_segment_jobs,
    }
