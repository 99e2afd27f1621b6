"""Avro schema checks: what CreateSchema accepts and what each dataset type needs."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .errors import InvalidInput

SCALAR_TYPES = {"float", "double", "int", "long", "string", "boolean"}
REQUIRED_FIELDS = {
    "INTERACTIONS": {"USER_ID": {"string"}, "ITEM_ID": {"string"}, "TIMESTAMP": {"long", "int"}},
    "ITEMS": {"ITEM_ID": {"string"}},
    "USERS": {"USER_ID": {"string"}},
}
DATASET_TYPES = tuple(REQUIRED_FIELDS) + ("ACTIONS", "ACTION_INTERACTIONS")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    nullable: bool


def parse_schema(text: str) -> list[Field]:
    """Parse and check an Avro record schema; InvalidInput says what is wrong."""
    if len(text) > 20000:
        raise InvalidInput("Schema must be at most 20000 characters.")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"Schema is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("type") != "record":
        raise InvalidInput('Schema must be an Avro record ("type": "record").')
    if not doc.get("name"):
        raise InvalidInput("Schema record must have a name.")
    raw_fields = doc.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise InvalidInput("Schema record must have a non-empty fields list.")
    fields: list[Field] = []
    seen: set[str] = set()
    for raw in raw_fields:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or "type" not in raw:
            raise InvalidInput(f"Each schema field needs a name and a type: {raw!r}")
        name = raw["name"]
        if name.upper() in seen:
            raise InvalidInput(f"Duplicate field {name} in schema.")
        seen.add(name.upper())
        types = raw["type"] if isinstance(raw["type"], list) else [raw["type"]]
        nullable = "null" in types
        scalar = [t for t in types if t != "null"]
        # Only primitive type names in a flat record (the guide's "Creating schema JSON files");
        # a nested type ({"type": "string"}, a map, an array) is unhashable, so test the kind first.
        if len(scalar) != 1 or not isinstance(scalar[0], str) or scalar[0] not in SCALAR_TYPES:
            raise InvalidInput(
                f"Field {name} has an unsupported type {raw['type']!r}; use one of "
                f"{sorted(SCALAR_TYPES)}, optionally in a union with null.")
        fields.append(Field(name=name, type=scalar[0], nullable=nullable))
    return fields


def check_for_dataset_type(fields: list[Field], dataset_type: str) -> None:
    """CreateDataset: the schema must carry the fields the dataset type needs."""
    required = REQUIRED_FIELDS.get(dataset_type, {})
    by_name = {f.name.upper(): f for f in fields}
    missing = [name for name in required if name not in by_name]
    if missing:
        raise InvalidInput(
            f"Schema is not valid for a {dataset_type} dataset: missing required field(s) {missing}.")
    for name, allowed in required.items():
        if by_name[name].type not in allowed:
            raise InvalidInput(f"Field {name} must be of type {sorted(allowed)} in a {dataset_type} schema.")
    if dataset_type in ("ITEMS", "USERS") and len(fields) < 2:
        raise InvalidInput(f"A {dataset_type} schema needs at least one metadata field.")
