"""Filters, the control-plane resource (applying one to a list is ``filtering``)."""

from __future__ import annotations

from .. import checks
from ..filter_expr import parse
from ..resources import Resources
from ..state import CREATE_PENDING
from .common import describe_handler, list_handler

SUMMARY = ("name", "filterArn", "datasetGroupArn", "status", "creationDateTime", "lastUpdatedDateTime",
           "failureReason")


def handlers(res: Resources) -> dict:
    store = res.store

    def create_filter(p, region):
        parse(p["filterExpression"])
        with store.locked():
            group = store.get("dataset-group", p["datasetGroupArn"])
            checks.require_active(group, "Dataset group", "datasetGroupArn", show_status=False)
            checks.filter_limit(store, group["datasetGroupArn"])
            arn = res.arn(region, f"filter/{p['name']}")
            store.add("filter", arn, {"name": p["name"], "filterArn": arn, "status": CREATE_PENDING,
                                      "datasetGroupArn": group["datasetGroupArn"],
                                      "filterExpression": p["filterExpression"], **checks.tags_field(p)})
        res.jobs.start("filter", arn)
        return {"filterArn": arn}

    def delete_filter(p, region):
        checks.require_idle(store.get("filter", p["filterArn"]), "Filter", "filterArn")
        res.jobs.delete_later("filter", p["filterArn"])

    ops = {
        "CreateFilter": create_filter,
        "DescribeFilter": describe_handler(store, "filter", "filterArn", "filter"),
        "ListFilters": list_handler(store, "filter", "Filters", SUMMARY, "datasetGroupArn"),
        "DeleteFilter": delete_filter,
    }
    return {("personalize", name): fn for name, fn in ops.items()}
