"""Tags: TagResource/UntagResource/ListTagsForResource (``tags`` on Create* are checked in ``checks``).

Tags live in a hidden ``_tags`` map on the resource record, so Describe/List
never show them (as in the service) and they go away with the resource.
"""

from __future__ import annotations

from .. import checks
from ..resources import Resources


def handlers(res: Resources) -> dict:
    store = res.store

    def tag_resource(p, region):
        with store.locked():
            kind, record = store.find(p["resourceArn"])
            store.update(kind, p["resourceArn"], _tags=checks.check_tags(p["tags"], record.get("_tags")))

    def untag_resource(p, region):
        with store.locked():
            kind, record = store.find(p["resourceArn"])
            kept = {k: v for k, v in record.get("_tags", {}).items() if k not in set(p["tagKeys"])}
            store.update(kind, p["resourceArn"], _tags=kept)

    def list_tags(p, region):
        _, record = store.find(p["resourceArn"])
        return {"tags": [{"tagKey": k, "tagValue": v} for k, v in record.get("_tags", {}).items()]}

    return {
        ("personalize", "TagResource"): tag_resource,
        ("personalize", "UntagResource"): untag_resource,
        ("personalize", "ListTagsForResource"): list_tags,
    }
