"""Batch inference jobs: JSON Lines in S3 -> one vectorised scoring pass -> ``.out`` files.

Lines are parsed first, all valid users are scored together (see ``scoring``),
then every input line gets one output line; a bad line gets an ``error`` text
and the job goes on.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

import numpy as np

from .errors import InvalidInput, JobFailure, ResourceAlreadyExists, ResourceInUse
from .s3io import S3
from .scoring import Model, recommend
from .service import PersonalizeService, paginate, pick, public
from .state import ACTIVE, JOB_PENDING

SUMMARY = ("batchInferenceJobArn", "jobName", "status", "creationDateTime", "lastUpdatedDateTime",
           "failureReason", "solutionVersionArn", "batchInferenceJobMode")
SCORE_DECIMALS = 7


def parse_line(text: str) -> tuple[Any, str | None, str | None]:
    """(echoed input, userId, error) for one input line."""
    try:
        query = json.loads(text)
    except json.JSONDecodeError as exc:
        return text, None, f"Line is not valid JSON: {exc.msg} at column {exc.colno}."
    if not isinstance(query, dict):
        return query, None, "Line must be a JSON object such as {\"userId\": \"u1\"}."
    user = query.get("userId")
    if user is None:
        return query, None, "Line has no userId; this solution recommends items for users."
    if not isinstance(user, str) or not user or len(user) > 256:
        return query, None, "userId must be a non-empty string of at most 256 characters."
    return query, user, None


def score_lines(model: Model, lines: list[str], k: int) -> list[str]:
    """Output lines (JSON text) for input lines; blank lines are skipped."""
    parsed = [parse_line(line) for line in lines if line.strip()]
    ok = [i for i, (_, user, _) in enumerate(parsed) if user is not None]
    rows = model.user_index([parsed[i][1] for i in ok])
    items, scores, valid = recommend(model, rows, k)
    item_names = model.item_ids[items] if len(ok) else np.empty((0, 0), dtype=str)
    scores = np.round(scores, SCORE_DECIMALS)
    outputs: dict[int, dict[str, Any]] = {}
    for j, i in enumerate(ok):
        keep = valid[j]
        output: dict[str, Any] = {"recommendedItems": item_names[j][keep].tolist()}
        if model.has_scores:
            output["scores"] = scores[j][keep].tolist()
        outputs[i] = output
    out = []
    for i, (query, _, error) in enumerate(parsed):
        out.append(json.dumps({"input": query, "output": outputs.get(i), "error": error}))
    return out


def run(s3: S3, model: Model, input_uri: str, output_uri: str, k: int) -> None:
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
        lines = score_lines(model, text.splitlines(), k)
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
                store.get("filter", p["filterArn"])
                raise InvalidInput("Filters are not supported by the local batch inference yet.")
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
                **pick(p, ("filterArn", "batchInferenceJobConfig"))})

        def work():
            run(svc.s3, svc.load_model(version["solutionVersionArn"]), input_uri, output_uri, k)

        svc.jobs.start("batch-inference-job", arn, work, batch_statuses=True)
        return {"batchInferenceJobArn": arn}

    def describe_batch_inference_job(p, region):
        return {"batchInferenceJob": public(store.get("batch-inference-job", p["batchInferenceJobArn"]))}

    def list_batch_inference_jobs(p, region):
        version = p.get("solutionVersionArn")
        records = store.list("batch-inference-job",
                             lambda r: version is None or r["solutionVersionArn"] == version)
        return paginate([pick(r, SUMMARY) for r in records], p, "batchInferenceJobs")

    return {
        ("personalize", "CreateBatchInferenceJob"): create_batch_inference_job,
        ("personalize", "DescribeBatchInferenceJob"): describe_batch_inference_job,
        ("personalize", "ListBatchInferenceJobs"): list_batch_inference_jobs,
    }
