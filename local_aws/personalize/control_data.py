"""Control plane, data side: dataset groups, schemas, datasets, dataset import jobs."""

from __future__ import annotations

from typing import Any

from .errors import InvalidInput, ResourceAlreadyExists, ResourceInUse
from .imports import merge, read_location, validate
from .schemas import DATASET_TYPES, check_for_dataset_type, parse_schema
from .service import PersonalizeService, describe_handler, list_handler, pick
from .state import ACTIVE, BUSY_STATUSES, CREATE_PENDING

GROUP_SUMMARY = ("name", "datasetGroupArn", "status", "creationDateTime", "lastUpdatedDateTime",
                 "failureReason", "domain")
SCHEMA_SUMMARY = ("name", "schemaArn", "creationDateTime", "lastUpdatedDateTime", "domain")
DATASET_SUMMARY = ("name", "datasetArn", "datasetType", "status", "creationDateTime", "lastUpdatedDateTime")
IMPORT_SUMMARY = ("datasetImportJobArn", "jobName", "status", "creationDateTime", "lastUpdatedDateTime",
                  "failureReason", "importMode")


def group_name(group_arn: str) -> str:
    return group_arn.split(":dataset-group/", 1)[1]


def handlers(svc: PersonalizeService) -> dict:
    store = svc.store

    def create_dataset_group(p: dict[str, Any], region: str) -> dict[str, Any]:
        arn = svc.arn(region, f"dataset-group/{p['name']}")
        record = {"name": p["name"], "datasetGroupArn": arn, "status": CREATE_PENDING,
                  **pick(p, ("roleArn", "kmsKeyArn", "domain")), **svc.tags_field(p)}
        store.add("dataset-group", arn, record)
        svc.jobs.start("dataset-group", arn)
        return {"datasetGroupArn": arn, **pick(p, ("domain",))}

    describe_dataset_group = describe_handler(store, "dataset-group", "datasetGroupArn", "datasetGroup")

    list_dataset_groups = list_handler(store, "dataset-group", "datasetGroups", GROUP_SUMMARY)

    def delete_dataset_group(p, region):
        arn = p["datasetGroupArn"]
        with store.locked():
            record = store.get("dataset-group", arn)
            if record["status"] in BUSY_STATUSES:
                raise ResourceInUse(f"Dataset group {arn} is in status {record['status']}.")
            in_group = lambda r: r.get("datasetGroupArn") == arn  # noqa: E731
            dependents = [r.get("datasetArn") or r.get("solutionArn") or r.get("filterArn")
                          or r.get("eventTrackerArn")
                          for kind in ("dataset", "solution", "filter", "event-tracker")
                          for r in store.list(kind, in_group)]
            if dependents:
                raise ResourceInUse(
                    f"Dataset group {arn} still has resources; delete them first: {', '.join(dependents)}")
            svc.jobs.delete_later("dataset-group", arn)

    def create_schema(p, region):
        parse_schema(p["schema"])
        arn = svc.arn(region, f"schema/{p['name']}")
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
            if users:
                raise ResourceInUse(f"Schema {arn} is used by dataset(s): "
                                    f"{', '.join(r['datasetArn'] for r in users)}")
            store.delete("schema", arn)

    def create_dataset(p, region):
        dataset_type = p["datasetType"].upper()
        if dataset_type not in DATASET_TYPES:
            raise InvalidInput(f"datasetType must be one of {list(DATASET_TYPES)}, got {p['datasetType']!r}.")
        with store.locked():
            group = store.get("dataset-group", p["datasetGroupArn"])
            schema = store.get("schema", p["schemaArn"])
            if group["status"] != ACTIVE:
                raise ResourceInUse(
                    f"Dataset group {group['datasetGroupArn']} is not ACTIVE (status: {group['status']}).")
            check_for_dataset_type(parse_schema(schema["schema"]), dataset_type)
            same_name = store.list("dataset", lambda r: r["name"] == p["name"])
            if same_name:
                raise ResourceAlreadyExists(same_name[0]["datasetArn"])
            arn = svc.arn(region, f"dataset/{group['name']}/{dataset_type}")
            store.add("dataset", arn, {
                "name": p["name"], "datasetArn": arn, "datasetGroupArn": group["datasetGroupArn"],
                "datasetType": dataset_type, "schemaArn": schema["schemaArn"], "status": CREATE_PENDING,
                **svc.tags_field(p)})
        svc.jobs.start("dataset", arn)
        return {"datasetArn": arn}

    describe_dataset = describe_handler(store, "dataset", "datasetArn", "dataset")

    list_datasets = list_handler(
        store, "dataset", "datasets", DATASET_SUMMARY, "datasetGroupArn", "dataset-group"
    )

    def delete_dataset(p, region):
        arn = p["datasetArn"]
        with store.locked():
            record = store.get("dataset", arn)
            busy = store.list("dataset-import-job",
                              lambda r: r["datasetArn"] == arn and r["status"] in BUSY_STATUSES)
            if record["status"] in BUSY_STATUSES or busy:
                raise ResourceInUse(f"Dataset {arn} has work in progress.")
            svc.jobs.delete_later("dataset", arn, cleanup=lambda: svc.files.remove(arn))

    def create_dataset_import_job(p, region):
        location = (p.get("dataSource") or {}).get("dataLocation")
        if not location:
            raise InvalidInput("Missing required parameter dataSource.dataLocation.")
        if not location.startswith("s3://"):
            raise InvalidInput(f"dataSource.dataLocation must be an s3:// location, got {location!r}.")
        mode = p.get("importMode", "FULL")
        with store.locked():
            dataset = store.get("dataset", p["datasetArn"])
            if dataset["status"] != ACTIVE:
                raise ResourceInUse(f"Dataset {dataset['datasetArn']} is not ACTIVE "
                                    f"(status: {dataset['status']}).")
            arn = svc.arn(region, f"dataset-import-job/{p['jobName']}")
            if store.exists("dataset-import-job", arn):
                raise ResourceAlreadyExists(arn)
            svc.check_busy_limit("dataset-import-job")
            store.add("dataset-import-job", arn, {
                "jobName": p["jobName"], "datasetImportJobArn": arn, "datasetArn": dataset["datasetArn"],
                "dataSource": {"dataLocation": location}, "status": CREATE_PENDING, "importMode": mode,
                "publishAttributionMetricsToS3": bool(p.get("publishAttributionMetricsToS3", False)),
                **pick(p, ("roleArn",)), **svc.tags_field(p)})
        schema = store.get("schema", dataset["schemaArn"])

        def work():
            fields = parse_schema(schema["schema"])
            frame = read_location(svc.s3, location, fields)
            validate(frame, dataset["datasetType"])
            with svc.files.lock(dataset["datasetArn"]):
                existing = svc.files.load(dataset["datasetArn"])
                svc.files.save(dataset["datasetArn"], merge(existing, frame, dataset["datasetType"], mode))
            return None

        svc.jobs.start("dataset-import-job", arn, work)
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
