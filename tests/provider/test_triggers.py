"""Triggers serialize completely and report success or the failure from the waiter."""

from __future__ import annotations

import asyncio
import importlib
from unittest import mock

import pytest
from airflow.providers.amazon.aws.exceptions import WaiterTerminalFailure
from botocore.exceptions import EndpointConnectionError

from personalize_provider.hooks.personalize import RESOURCE_KINDS
from personalize_provider.triggers.personalize import TRIGGERS_BY_KIND

ARN = "arn:aws:personalize:us-east-1:123456789012:dataset-import-job/job-1"


def test_every_resource_kind_has_a_trigger():
    assert set(TRIGGERS_BY_KIND) == set(RESOURCE_KINDS)


@pytest.mark.parametrize("kind", sorted(TRIGGERS_BY_KIND))
def test_serialize_round_trip(kind):
    trigger = TRIGGERS_BY_KIND[kind](
        resource_arn=ARN,
        waiter_delay=7,
        waiter_max_attempts=9,
        aws_conn_id="my_aws",
        region_name="eu-west-1",
        botocore_config={"retries": {"max_attempts": 4}},
        max_connection_errors=3,
    )
    path, kwargs = trigger.serialize()
    module, _, name = path.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (path, kwargs)
    assert kwargs["resource_arn"] == ARN
    assert rebuilt.waiter_name == RESOURCE_KINDS[kind].waiter
    assert rebuilt.waiter_args == {RESOURCE_KINDS[kind].arn_param: ARN}
    assert (rebuilt.waiter_delay, rebuilt.attempts, rebuilt.region_name) == (7, 9, "eu-west-1")
    assert rebuilt.max_connection_errors == 3


def _run(trigger):
    async def first_event():
        return await trigger.run().__anext__()

    return asyncio.run(first_event())


@mock.patch("airflow.providers.amazon.aws.triggers.base.async_wait")
@mock.patch("personalize_provider.hooks.personalize.PersonalizeHook.get_waiter")
@mock.patch("personalize_provider.hooks.personalize.PersonalizeHook.get_async_conn")
def test_run_yields_success_with_the_arn(get_async_conn, get_waiter, async_wait):
    get_async_conn.return_value.__aenter__.return_value = mock.MagicMock()
    async_wait.return_value = None
    event = _run(TRIGGERS_BY_KIND["dataset_import_job"](resource_arn=ARN))
    assert event.payload == {"status": "success", "resource_arn": ARN}
    assert async_wait.call_args.args[3] == {"datasetImportJobArn": ARN}


@mock.patch("airflow.providers.amazon.aws.triggers.base.async_wait")
@mock.patch("personalize_provider.hooks.personalize.PersonalizeHook.get_waiter")
@mock.patch("personalize_provider.hooks.personalize.PersonalizeHook.get_async_conn")
def test_run_yields_error_on_terminal_failure(get_async_conn, get_waiter, async_wait):
    get_async_conn.return_value.__aenter__.return_value = mock.MagicMock()
    async_wait.side_effect = WaiterTerminalFailure("job failed: CREATE FAILED", last_response={})
    event = _run(TRIGGERS_BY_KIND["solution_version"](resource_arn=ARN))
    assert event.payload["status"] == "error"
    assert "CREATE FAILED" in event.payload["message"]
    assert event.payload["resource_arn"] == ARN


def _unreachable() -> EndpointConnectionError:
    return EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/")


@mock.patch("airflow.providers.amazon.aws.triggers.base.async_wait")
@mock.patch("personalize_provider.hooks.personalize.PersonalizeHook.get_waiter")
@mock.patch("personalize_provider.hooks.personalize.PersonalizeHook.get_async_conn")
def test_run_waits_out_a_restarting_endpoint(get_async_conn, get_waiter, async_wait):
    get_async_conn.return_value.__aenter__.return_value = mock.MagicMock()
    async_wait.side_effect = [_unreachable(), _unreachable(), None]
    trigger = TRIGGERS_BY_KIND["solution_version"](resource_arn=ARN, waiter_delay=0, max_connection_errors=2)
    event = _run(trigger)
    assert event.payload == {"status": "success", "resource_arn": ARN}
    assert async_wait.call_count == 3


@mock.patch("airflow.providers.amazon.aws.triggers.base.async_wait")
@mock.patch("personalize_provider.hooks.personalize.PersonalizeHook.get_waiter")
@mock.patch("personalize_provider.hooks.personalize.PersonalizeHook.get_async_conn")
def test_run_gives_up_after_the_allowed_connection_errors(get_async_conn, get_waiter, async_wait):
    get_async_conn.return_value.__aenter__.return_value = mock.MagicMock()
    async_wait.side_effect = [_unreachable(), _unreachable(), None]
    trigger = TRIGGERS_BY_KIND["solution_version"](resource_arn=ARN, waiter_delay=0, max_connection_errors=1)
    with pytest.raises(EndpointConnectionError):
        _run(trigger)
    assert async_wait.call_count == 2
