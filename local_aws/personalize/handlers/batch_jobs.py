"""Batch inference jobs and batch segment jobs (the work is in ``work``)."""

from __future__ import annotations

from .. import checks, work
from ..resources import Resources
from ..state import JOB_PENDING
from .common import describe_handler, list_handler, pick

INFERENCE_SUMMARY = ("batchInferenceJobArn", "jobName", "status", "creationDateTime", "lastUpdatedDateTime",
                     "failureReason", "solutionVersionArn", "batchInferenceJobMode")
SEGMENT_SUMMARY = ("batchSegmentJobArn", "jobName", "status", "creationDateTime", "lastUpdatedDateTime",
                   "failureReason", "solutionVersionArn")


def handlers(res: Resources) -> dict:
    store = res.store

    def create_batch_inference_job(p, region):
        k = checks.num_results(p, 500, "numResults must be between 1 and 500.")
        input_uri, output_uri = work.job_paths(p)
        checks.s3_location("jobInput path", input_uri)
        checks.s3_location("jobOutput path", output_uri)
        with store.locked():
            version = store.get("solution-version", p["solutionVersionArn"])
            checks.require_active(version, "Solution version", "solutionVersionArn")
            if p.get("filterArn"):
                checks.active_filter(store, p["filterArn"], version["datasetGroupArn"])
            checks.inference_recipe(version)
            arn = res.arn(region, f"batch-inference-job/{p['jobName']}")
            checks.new_job(store, "batch-inference-job", arn, res.quotas.batch_inference_jobs)
            record = store.add("batch-inference-job", arn, {
                "jobName": p["jobName"], "batchInferenceJobArn": arn,
                "solutionVersionArn": version["solutionVersionArn"], "numResults": k,
                "jobInput": p["jobInput"], "jobOutput": p["jobOutput"], "roleArn": p["roleArn"],
                "batchInferenceJobMode": p.get("batchInferenceJobMode", "BATCH_INFERENCE"),
                "status": JOB_PENDING,
                **pick(p, ("filterArn", "batchInferenceJobConfig")), **checks.tags_field(p)})
        res.jobs.start("batch-inference-job", arn, work.body_for(res, "batch-inference-job", record),
                       batch_statuses=True)
        return {"batchInferenceJobArn": arn}

    def create_batch_segment_job(p, region):
        k = checks.num_results(p, 5_000_000, "numResults must be at least 1.")
        input_uri, output_uri = work.job_paths(p)
        checks.s3_location("jobInput path", input_uri)
        checks.s3_location("jobOutput path", output_uri)
        with store.locked():
            version = store.get("solution-version", p["solutionVersionArn"])
            checks.require_active(version, "Solution version", "solutionVersionArn", show_status=False)
            checks.segment_recipe(version)
            if p.get("filterArn"):
                checks.active_filter(store, p["filterArn"], version["datasetGroupArn"])
            arn = res.arn(region, f"batch-segment-job/{p['jobName']}")
            checks.new_job(store, "batch-segment-job", arn, res.quotas.batch_segment_jobs)
            record = store.add("batch-segment-job", arn, {
                "jobName": p["jobName"], "batchSegmentJobArn": arn, "numResults": k,
                "solutionVersionArn": version["solutionVersionArn"], "jobInput": p["jobInput"],
                "jobOutput": p["jobOutput"], "roleArn": p["roleArn"], "status": JOB_PENDING,
                **pick(p, ("filterArn",)), **checks.tags_field(p)})
        res.jobs.start("batch-segment-job", arn, work.body_for(res, "batch-segment-job", record),
                       batch_statuses=True)
        return {"batchSegmentJobArn": arn}

    ops = {
        "CreateBatchInferenceJob": create_batch_inference_job,
        "DescribeBatchInferenceJob": describe_handler(
            store, "batch-inference-job", "batchInferenceJobArn", "batchInferenceJob"),
        "ListBatchInferenceJobs": list_handler(
            store, "batch-inference-job", "batchInferenceJobs", INFERENCE_SUMMARY, "solutionVersionArn"),
        "CreateBatchSegmentJob": create_batch_segment_job,
        "DescribeBatchSegmentJob": describe_handler(
            store, "batch-segment-job", "batchSegmentJobArn", "batchSegmentJob"),
        "ListBatchSegmentJobs": list_handler(
            store, "batch-segment-job", "batchSegmentJobs", SEGMENT_SUMMARY, "solutionVersionArn"),
    }
    return {("personalize", name): fn for name, fn in ops.items()}
