"""Control plane, data side: dataset groups, schemas, datasets, dataset import jobs."""

from __future__ import annotations

from functools import partial
from typing import Any

from .. import checks, work
from ..resources import Resources
from ..schemas import check_for_dataset_type, parse_schema
from ..state import CREATE_PENDING
from .common import describe_handler, list_handler, pick

GROUP_SUMMARY = ("name", "datasetGroupArn", "status", "creationDateTime", "lastUpdatedDateTime",
                 "failureReason", "domain")
SCHEMA_SUMMARY = ("name", "schemaArn", "creationDateTime", "lastUpdatedDateTime", "domain")
DATASET_SUMMARY = ("name", "datasetArn", "datasetType", "status", "creationDateTime", "lastUpdatedDateTime")
IMPORT_SUMMARY = ("datasetImportJobArn", "jobName", "status", "creationDateTime", "lastUpdatedDateTime",
                  "failureReason", "importMode")


def handlers(res: Resources) -> dict:
    store = res.store

    def create_dataset_group(p: dict[str, Any], region: str) -> dict[str, Any]:
        arn = res.arn(region, f"dataset-group/{p['name']}")
        record = {"name": p["name"], "datasetGroupArn": arn, "status": CREATE_PENDING,
                  **pick(p, ("roleArn", "kmsKeyArn", "domain")), **checks.tags_field(p)}
        with store.locked():
            if not store.exists("dataset-group", arn):  # a taken name is ResourceAlreadyExists
                checks.dataset_group_limit(store, res.quotas.dataset_groups)
            store.add("dataset-group", arn, record)
        res.jobs.start("dataset-group", arn)
        return {"datasetGroupArn": arn, **pick(p, ("domain",))}

    describe_dataset_group = describe_handler(store, "dataset-group", "datasetGroupArn", "datasetGroup")

    list_dataset_groups = list_handler(store, "dataset-group", "datasetGroups", GROUP_SUMMARY)

    def delete_dataset_group(p, region):
        arn = p["datasetGroupArn"]
        with store.locked():
            checks.require_idle(store.get("dataset-group", arn), "Dataset group", "datasetGroupArn")
            in_group = lambda r: r.get("datasetGroupArn") == arn  # noqa: E731
            dependents = [r.get("datasetArn") or r.get("solutionArn") or r.get("filterArn")
                          or r.get("eventTrackerArn")
                          for kind in ("dataset", "solution", "filter", "event-tracker")
                          for r in store.list(kind, in_group)]
            checks.not_in_use(f"Dataset group {arn} still has resources; delete them first: ", dependents)
            res.jobs.delete_later("dataset-group", arn)

    def create_schema(p, region):
        parse_schema(p["schema"])
        arn = res.arn(region, f"schema/{p['name']}")
        store.add("schema", arn, {"name": p["name"], "schemaArn": arn, "schema": p["schema"],
                                  **pick(p, ("domain",))})
        return {"schemaArn": arn}

    describe_schema = describe_handler(store, "schema", "schemaArn", "schema")

    list_schemas = list_handler(store, "schema", "schemas", SCHEMA_SUMMARY)

    def delete_schema(p, region):
        arn = p["schemaArn"]
        with store.locked():
            store.get("schema", arn)
            users = store.list("dataset", lambda r: r.get("schemaArn") == arn)
            checks.not_in_use(f"Schema {arn} is used by dataset(s): ", [r["datasetArn"] for r in users])
            store.delete("schema", arn)

    def create_dataset(p, region):
        dataset_type = checks.dataset_type(p["datasetType"])
        with store.locked():
            group = store.get("dataset-group", p["datasetGroupArn"])
            schema = store.get("schema", p["schemaArn"])
            checks.require_active(group, "Dataset group", "datasetGroupArn")
            check_for_dataset_type(parse_schema(schema["schema"]), dataset_type)
            same_name = store.list("dataset", lambda r: r["name"] == p["name"])
            checks.unused_name([r["datasetArn"] for r in same_name])
            arn = res.arn(region, f"dataset/{group['name']}/{dataset_type}")
            store.add("dataset", arn, {
                "name": p["name"], "datasetArn": arn, "datasetGroupArn": group["datasetGroupArn"],
                "datasetType": dataset_type, "schemaArn": schema["schemaArn"], "status": CREATE_PENDING,
                **checks.tags_field(p)})
        res.jobs.start("dataset", arn)
        return {"datasetArn": arn}

    describe_dataset = describe_handler(store, "dataset", "datasetArn", "dataset")

    list_datasets = list_handler(
        store, "dataset", "datasets", DATASET_SUMMARY, "datasetGroupArn", "dataset-group"
    )

    def delete_dataset(p, region):
        arn = p["datasetArn"]
        with store.locked():
            record = store.get("dataset", arn)
            imports = store.list("dataset-import-job", lambda r: r["datasetArn"] == arn)
            checks.no_work_in_progress(f"Dataset {arn}", [record, *imports])
            res.jobs.delete_later("dataset", arn, cleanup=partial(res.files.remove, arn))

    def create_dataset_import_job(p, region):
        location = checks.data_location(p)
        mode = p.get("importMode", "FULL")
        with store.locked():
            dataset = store.get("dataset", p["datasetArn"])
            checks.require_active(dataset, "Dataset", "datasetArn")
            arn = res.arn(region, f"dataset-import-job/{p['jobName']}")
            checks.new_job(store, "dataset-import-job", arn, res.quotas.import_jobs)
            record = store.add("dataset-import-job", arn, {
                "jobName": p["jobName"], "datasetImportJobArn": arn, "datasetArn": dataset["datasetArn"],
                "dataSource": {"dataLocation": location}, "status": CREATE_PENDING, "importMode": mode,
                "publishAttributionMetricsToS3": bool(p.get("publishAttributionMetricsToS3", False)),
                **pick(p, ("roleArn",)), **checks.tags_field(p)})
        res.jobs.start("dataset-import-job", arn, work.body_for(res, "dataset-import-job", record))
        return {"datasetImportJobArn": arn}

    describe_dataset_import_job = describe_handler(
        store, "dataset-import-job", "datasetImportJobArn", "datasetImportJob"
    )

    list_dataset_import_jobs = list_handler(
        store, "dataset-import-job", "datasetImportJobs", IMPORT_SUMMARY, "datasetArn"
    )

    ops = {
        "CreateDatasetGroup": create_dataset_group,
        "DescribeDatasetGroup": describe_dataset_group,
        "ListDatasetGroups": list_dataset_groups,
        "DeleteDatasetGroup": delete_dataset_group,
        "CreateSchema": create_schema,
        "DescribeSchema": describe_schema,
        "ListSchemas": list_schemas,
        "DeleteSchema": delete_schema,
        "CreateDataset": create_dataset,
        "DescribeDataset": describe_dataset,
        "ListDatasets": list_datasets,
        "DeleteDataset": delete_dataset,
        "CreateDatasetImportJob": create_dataset_import_job,
        "DescribeDatasetImportJob": describe_dataset_import_job,
        "ListDatasetImportJobs": list_dataset_import_jobs,
    }
    return {("personalize", name): fn for name, fn in ops.items()}
