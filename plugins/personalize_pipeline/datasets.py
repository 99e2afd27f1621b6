"""The Personalize datasets the pipeline fills: their Avro schemas and the SQL that extracts them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DatasetSpec:
    dataset_type: str  # INTERACTIONS, ITEMS or USERS
    query_file: str  # include/sql/<query_file>, a SELECT whose columns match the schema
    schema: dict[str, Any]

    @property
    def slug(self) -> str:
        return self.dataset_type.lower()

    @property
    def columns(self) -> list[str]:
        return [field["name"] for field in self.schema["fields"]]


def _avro(name: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "record",
        "name": name,
        "namespace": "com.amazonaws.personalize.schema",
        "fields": fields,
        "version": "1.0",
    }


INTERACTIONS = DatasetSpec(
    "INTERACTIONS",
    "extract/interactions.sql",
    _avro(
        "Interactions",
        [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "EVENT_TYPE", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"},
        ],
    ),
)
ITEMS = DatasetSpec(
    "ITEMS",
    "extract/items.sql",
    _avro(
        "Items",
        [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "CATEGORY", "type": "string", "categorical": True},
            {"name": "PRICE", "type": "float"},
            {"name": "CREATION_TIMESTAMP", "type": "long"},
        ],
    ),
)
USERS = DatasetSpec(
    "USERS",
    "extract/users.sql",
    _avro(
        "Users",
        [
            {"name": "USER_ID", "type": "string"},
            {"name": "COUNTRY", "type": "string", "categorical": True},
            {"name": "AGE_BAND", "type": "string", "categorical": True},
        ],
    ),
)

ALL_DATASETS = (INTERACTIONS, ITEMS, USERS)
