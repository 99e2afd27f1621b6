"""Batch inference jobs: JSON Lines in S3 -> one vectorised scoring pass -> ``.out`` files.

Lines are parsed first, all valid users are scored together (see ``scoring``),
then every input line gets one output line; a bad line gets an ``error`` text
and the job goes on.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from typing import Any

import numpy as np

from . import filters, queries
from .errors import InvalidInput, JobFailure, ResourceAlreadyExists, ResourceInUse, ServiceError
from .s3io import S3
from .scoring import Model
from .service import PersonalizeService, describe_handler, list_handler, pick
from .state import ACTIVE, JOB_PENDING

SUMMARY = ("batchInferenceJobArn", "jobName", "status", "creationDateTime", "lastUpdatedDateTime",
           "failureReason", "solutionVersionArn", "batchInferenceJobMode")
SCORE_DECIMALS = 7


def parse_line(text: str) -> tuple[Any, str | None]:
    """(echoed input, error) for one input line."""
    try:
        query = json.loads(text)
    except json.JSONDecodeError as exc:
        return text, f"Line is not valid JSON: {exc.msg} at column {exc.colno}."
    if not isinstance(query, dict):
        return query, "Line must be a JSON object such as {\"userId\": \"u1\"}."
    return query, None


MaskFor = Callable[[Model, dict], "np.ndarray | None"]


def score_lines(model: Model, lines: list[str], k: int, mask_for: MaskFor | None = None) -> list[str]:
    """Output lines (JSON text) for input lines; blank lines are skipped."""
    parsed = []
    for line in lines:
        if not line.strip():
            continue
        query, error = parse_line(line)
        error = error or queries.check(model, query)
        mask = None
        if error is None and mask_for is not None:
            try:
                mask = mask_for(model, query)
            except ServiceError as exc:
                error = exc.message
        parsed.append((query, error, mask))
    ok = [i for i, (_, error, _) in enumerate(parsed) if error is None]
    answers = queries.answer(model, [parsed[i][0] for i in ok], k, [parsed[i][2] for i in ok])
    outputs: dict[int, dict[str, Any]] = {}
    for i, (items, scores) in zip(ok, answers, strict=True):
        output: dict[str, Any] = {"recommendedItems": items}
        if scores is not None and model.has_scores:
            output["scores"] = [None if s is None else round(s, SCORE_DECIMALS) for s in scores]
        outputs[i] = output
    return [json.dumps({"input": query, "output": outputs.get(i), "error": error})
            for i, (query, error, _) in enumerate(parsed)]


def run(s3: S3, model: Model, input_uri: str, output_uri: str, k: int,
        transform: Callable[[list[str]], list[str]] | None = None) -> None:
    """Read every input file, write ``<name>.out``; ``transform`` maps input lines to output lines."""
    try:
        keys = s3.keys_at(input_uri)
    except ValueError:
        keys = []
    if not keys:
        raise JobFailure(f"Invalid input location: no input files at {input_uri}.")
    base = output_uri if output_uri.endswith("/") else output_uri + "/"
    for bucket, key in keys:
        try:
            text = s3.read(bucket, key).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JobFailure(f"Input file s3://{bucket}/{key} is not UTF-8 text.") from exc
        lines = transform(text.splitlines()) if transform else score_lines(model, text.splitlines(), k)
        s3.write(base + posixpath.basename(key) + ".out", ("\n".join(lines) + "\n").encode())


def handlers(svc: PersonalizeService) -> dict:
    store = svc.store

    def create_batch_inference_job(p, region):
        k = p.get("numResults", 25)
        if not 1 <= k <= 500:
            raise InvalidInput("numResults must be between 1 and 500.")
        input_uri = p["jobInput"]["s3DataSource"]["path"]
        output_uri = p["jobOutput"]["s3DataDestination"]["path"]
        for name, uri in (("jobInput", input_uri), ("jobOutput", output_uri)):
            if not uri.startswith("s3://"):
                raise InvalidInput(f"{name} path must be an s3:// location, got {uri!r}.")
        with store.locked():
            version = store.get("solution-version", p["solutionVersionArn"])
            if version["status"] != ACTIVE:
                raise ResourceInUse(f"Solution version {version['solutionVersionArn']} is not ACTIVE "
                                    f"(status: {version['status']}).")
            if p.get("filterArn"):
                filters.active_filter(svc, p["filterArn"], version["datasetGroupArn"])
            if version["recipeArn"].endswith("/aws-trending-now"):
                raise InvalidInput("Batch inference is not supported for solutions trained with "
                                   "aws-trending-now.")
            if version["recipeArn"].endswith(("/aws-item-affinity", "/aws-item-attribute-affinity")):
                raise InvalidInput("This solution version makes user segments; use CreateBatchSegmentJob.")
            arn = svc.arn(region, f"batch-inference-job/{p['jobName']}")
            if store.exists("batch-inference-job", arn):
                raise ResourceAlreadyExists(arn)
            svc.check_busy_limit("batch-inference-job")
            store.add("batch-inference-job", arn, {
                "jobName": p["jobName"], "batchInferenceJobArn": arn,
                "solutionVersionArn": version["solutionVersionArn"], "numResults": k,
                "jobInput": p["jobInput"], "jobOutput": p["jobOutput"], "roleArn": p["roleArn"],
                "batchInferenceJobMode": p.get("batchInferenceJobMode", "BATCH_INFERENCE"),
                "status": JOB_PENDING,
                **pick(p, ("filterArn", "batchInferenceJobConfig")), **svc.tags_field(p)})
        filter_arn = p.get("filterArn")
        contexts: dict[str, filters.FilterContext] = {}  # one per distinct filterValues: reuses item masks

        def mask_for(model, query):
            key = filters.values_key(query.get("filterValues"))
            if key not in contexts:
                contexts[key] = filters.context_for(svc, filter_arn, query.get("filterValues"))
            context = contexts[key]
            return context.mask(model.item_ids, query.get("userId"), query.get("itemId"))

        def work():
            model = svc.load_model(version["solutionVersionArn"])
            run(svc.s3, model, input_uri, output_uri, k,
                lambda lines: score_lines(model, lines, k, mask_for if filter_arn else None))

        svc.jobs.start("batch-inference-job", arn, work, batch_statuses=True)
        return {"batchInferenceJobArn": arn}

    describe_batch_inference_job = describe_handler(
        store, "batch-inference-job", "batchInferenceJobArn", "batchInferenceJob"
    )

    list_batch_inference_jobs = list_handler(
        store, "batch-inference-job", "batchInferenceJobs", SUMMARY, "solutionVersionArn"
    )

    return {
        ("personalize", "CreateBatchInferenceJob"): create_batch_inference_job,
        ("personalize", "DescribeBatchInferenceJob"): describe_batch_inference_job,
        ("personalize", "ListBatchInferenceJobs"): list_batch_inference_jobs,
    }
