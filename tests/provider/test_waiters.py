"""Every Personalize waiter, run through botocore with a mocked describe sequence."""

from __future__ import annotations

import json
from unittest import mock

import boto3
import pytest
from botocore.exceptions import WaiterError
from botocore.waiter import WaiterModel

from personalize_provider.hooks.personalize import RESOURCE_KINDS, SCHEMA_KIND, PersonalizeHook

WAITERS = json.loads(PersonalizeHook(aws_conn_id=None).waiter_path.read_text())
CONFIG = {"Delay": 0.01, "MaxAttempts": 3}


def _client():
    return boto3.client(
        "personalize", region_name="us-east-1", aws_access_key_id="unit", aws_secret_access_key="unit"
    )


def _response(kind, status):
    body: dict = {"status": status, "failureReason": "bad data"}
    for key in reversed(kind.status_path[:-1]):
        body = {key: body}
    return {kind.response_key: body}


def _waiter(kind, describe):
    client = _client()
    with mock.patch.object(client, kind.describe, describe):
        return PersonalizeHook(aws_conn_id=None).get_waiter(kind.waiter, client=client)


def test_model_is_valid_and_covers_every_resource_kind():
    model = WaiterModel(WAITERS)
    assert set(model.waiter_names) == {kind.waiter for kind in RESOURCE_KINDS.values()}


@pytest.mark.parametrize("name", sorted(RESOURCE_KINDS))
def test_waits_through_intermediate_states_to_active(name):
    kind = RESOURCE_KINDS[name]
    describe = mock.Mock(
        side_effect=[
            _response(kind, "CREATE PENDING"),
            _response(kind, "CREATE IN_PROGRESS"),
            _response(kind, "ACTIVE"),
        ]
    )
    _waiter(kind, describe).wait(**{kind.arn_param: "arn:x", "WaiterConfig": CONFIG})
    assert describe.call_count == 3


@pytest.mark.parametrize(
    ("name", "status"), [(n, s) for n, k in sorted(RESOURCE_KINDS.items()) for s in sorted(k.failure_states)]
)
def test_every_failure_state_fails_the_waiter_at_once(name, status):
    kind = RESOURCE_KINDS[name]
    describe = mock.Mock(side_effect=[_response(kind, "CREATE IN_PROGRESS"), _response(kind, status)])
    with pytest.raises(WaiterError, match="terminal failure"):
        _waiter(kind, describe).wait(**{kind.arn_param: "arn:x", "WaiterConfig": CONFIG})
    assert describe.call_count == 2


@pytest.mark.parametrize("name", sorted(RESOURCE_KINDS))
def test_gives_up_after_max_attempts(name):
    kind = RESOURCE_KINDS[name]
    describe = mock.Mock(return_value=_response(kind, "CREATE IN_PROGRESS"))
    with pytest.raises(WaiterError, match="Max attempts"):
        _waiter(kind, describe).wait(**{kind.arn_param: "arn:x", "WaiterConfig": CONFIG})
    assert describe.call_count == 3


def test_failure_states_of_waiters_and_kinds_agree():
    for kind in RESOURCE_KINDS.values():
        acceptors = WAITERS["waiters"][kind.waiter]["acceptors"]
        failures = {a["expected"] for a in acceptors if a["state"] == "failure"}
        successes = {a["expected"] for a in acceptors if a["state"] == "success"}
        assert failures == set(kind.failure_states), kind.waiter
        assert successes == set(kind.active_states), kind.waiter


def _pascal(snake: str) -> str:
    return "".join(word.title() for word in snake.split("_"))


@pytest.mark.parametrize("name", sorted(RESOURCE_KINDS))
def test_waiter_json_is_exactly_what_the_resource_kind_declares(name):
    kind = RESOURCE_KINDS[name]
    waiter = WAITERS["waiters"][kind.waiter]
    assert waiter["operation"] == _pascal(kind.describe)
    declared = {(kind.status_query, state, "success") for state in kind.active_states}
    declared |= {(kind.status_query, state, "failure") for state in kind.failure_states}
    acceptors = {(a["argument"], a["expected"], a["state"]) for a in waiter["acceptors"]}
    assert all(a["matcher"] == "path" for a in waiter["acceptors"])
    assert acceptors == declared
    assert not kind.in_flight_states & {expected for _, expected, _ in acceptors}


@pytest.mark.parametrize("kind", [*RESOURCE_KINDS.values(), SCHEMA_KIND], ids=lambda k: k.label)
def test_kind_names_the_clients_real_describe_and_paginated_list_calls(kind):
    client = _client()
    operation = client.meta.service_model.operation_model(_pascal(kind.describe))
    assert kind.arn_param in operation.input_shape.members
    assert kind.response_key in operation.output_shape.members
    assert client.can_paginate(kind.list_method)
    paginator = client.get_paginator(kind.list_method)
    assert [key.expression for key in paginator.result_keys] == [kind.list_key]
