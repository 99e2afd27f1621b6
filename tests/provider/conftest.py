"""The hook's client mocked (as the Amazon provider's own unit tests do); a dataset on the local service."""

from __future__ import annotations

import json
import time
import uuid
from types import SimpleNamespace
from unittest import mock

import pytest

from local_aws.testing import SYNTHETIC_INTERACTIONS_SCHEMA, synthetic_interactions_csv
from personalize_provider.hooks.personalize import PersonalizeHook


class _OnePage:
    """A paginator over one page: what the mocked ``list_*`` call of the same name returns."""

    def __init__(self, list_call: mock.Mock) -> None:
        self.list_call = list_call

    def paginate(self, **kwargs):
        return [self.list_call(**kwargs)]


@pytest.fixture
def conn():
    """``PersonalizeHook.conn`` mocked; set ``conn.list_<x>.return_value`` and paginators serve it."""
    with mock.patch.object(PersonalizeHook, "conn") as client:
        client.get_paginator.side_effect = lambda operation: _OnePage(getattr(client, operation))
        yield client


def _wait_active(describe, key, **kwargs) -> None:
    for _ in range(200):
        status = describe(**kwargs)[key]["status"]
        if status == "ACTIVE":
            return
        time.sleep(0.05)
    raise AssertionError(f"{key} never became ACTIVE (last {status})")


@pytest.fixture(scope="session")
def wait_active():
    """``wait_active(client.describe_x, "x", xArn=arn)``: poll the local service until ACTIVE."""
    return _wait_active


@pytest.fixture(scope="module")
def dataset(pipeline_env, aws_clients):
    """An ACTIVE dataset group and interactions dataset on the local service, a good and a bad CSV in S3."""
    personalize, s3 = aws_clients("personalize"), aws_clients("s3")
    name = f"ops-{uuid.uuid4().hex[:8]}"
    group = personalize.create_dataset_group(name=name)["datasetGroupArn"]
    _wait_active(personalize.describe_dataset_group, "datasetGroup", datasetGroupArn=group)
    schema = personalize.create_schema(name=name, schema=json.dumps(SYNTHETIC_INTERACTIONS_SCHEMA))[
        "schemaArn"
    ]
    arn = personalize.create_dataset(
        name=name, schemaArn=schema, datasetGroupArn=group, datasetType="INTERACTIONS"
    )["datasetArn"]
    _wait_active(personalize.describe_dataset, "dataset", datasetArn=arn)
    bucket = pipeline_env["bucket"]
    s3.put_object(Bucket=bucket, Key=f"{name}/good.csv", Body=synthetic_interactions_csv().encode())
    bad = synthetic_interactions_csv().replace("EVENT_TYPE", "KIND")
    s3.put_object(Bucket=bucket, Key=f"{name}/bad.csv", Body=bad.encode())
    return SimpleNamespace(
        group=group,
        arn=arn,
        schema=schema,
        name=name,
        good=f"s3://{bucket}/{name}/good.csv",
        bad=f"s3://{bucket}/{name}/bad.csv",
    )
