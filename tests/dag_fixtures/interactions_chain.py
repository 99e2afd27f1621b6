"""The tasks every end-to-end fixture DAG starts with: a dataset group with imported interactions.

A module of its own (not a DAG file), so DAG files can share it without registering each
other's DAGs; it is imported from ``tests/dag_fixtures`` on the Python path.
"""

from __future__ import annotations

from airflow.sdk import BaseOperator

from local_aws.testing import SYNTHETIC_INTERACTIONS_SCHEMA
from personalize_provider.operators.personalize import (
    PersonalizeCreateDatasetGroupOperator,
    PersonalizeCreateDatasetImportJobOperator,
    PersonalizeCreateDatasetOperator,
    PersonalizeCreateSchemaOperator,
)

P = "{{ params.prefix }}"


def imported_interactions(wait: dict) -> tuple[BaseOperator, BaseOperator]:
    """(dataset group task, import task) of the DAG being defined; the data comes from
    ``params.interactions``."""
    group = PersonalizeCreateDatasetGroupOperator(task_id="group", name=P, **wait)
    schema = PersonalizeCreateSchemaOperator(task_id="schema", name=P, schema=SYNTHETIC_INTERACTIONS_SCHEMA)
    dataset = PersonalizeCreateDatasetOperator(
        task_id="dataset",
        name=P,
        dataset_group_arn=group.output,
        dataset_type="INTERACTIONS",
        schema_arn=schema.output,
        **wait,
    )
    imported = PersonalizeCreateDatasetImportJobOperator(
        task_id="import", dataset_arn=dataset.output, data_location="{{ params.interactions }}", **wait
    )
    return group, imported
