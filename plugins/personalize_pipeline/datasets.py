"""A Personalize dataset the pipeline fills: its type, Avro schema and the SQL that extracts it.

The datasets themselves are configured in each pipeline's file in include/pipelines/
(see ``PipelineConfig.dataset_specs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DatasetSpec:
    dataset_type: str  # INTERACTIONS, ITEMS or USERS
    query_file: str  # include/sql/<query_file>, a SELECT whose columns match the schema
    schema: dict[str, Any]
    event_types: frozenset[str] | None = None  # interactions only: the EVENT_TYPE values allowed

    @property
    def slug(self) -> str:
        return self.dataset_type.lower()

    @property
    def columns(self) -> list[str]:
        return [field["name"] for field in self.schema["fields"]]


def avro_schema(name: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    """The Avro record schema Personalize expects for a dataset."""
    return {
        "type": "record",
        "name": name,
        "namespace": "com.amazonaws.personalize.schema",
        "fields": fields,
        "version": "1.0",
    }
