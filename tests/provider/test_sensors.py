"""Sensors: states in sync with the resource kinds and waiters; poke, defer and resume (mocked client);
poke real jobs on the local service."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from airflow.providers.common.compat.sdk import AirflowException, TaskDeferred

from personalize_provider.hooks.personalize import RESOURCE_KINDS, PersonalizeHook
from personalize_provider.sensors.personalize import ALL_SENSORS
from personalize_provider.triggers.personalize import TRIGGERS_BY_KIND

ARN = "arn:aws:personalize:us-east-1:123456789012:thing/x"
WAITERS = json.loads(PersonalizeHook(aws_conn_id=None).waiter_path.read_text())["waiters"]
SENSORS = {cls.kind_name: cls for cls in ALL_SENSORS}


def _sensor(cls, **kwargs):
    return cls(
        task_id="s", resource_arn=ARN, aws_conn_id=None, region_name="us-east-1", poke_interval=5, **kwargs
    )


def _described(kind, status):
    body = {"status": status, "failureReason": "out of memory"}
    for key in reversed(kind.status_path[:-1]):
        body = {"status": "ACTIVE", key: body}
    return {kind.response_key: body}


@pytest.mark.parametrize("kind_name", sorted(SENSORS))
def test_states_agree_with_the_resource_kind_and_its_waiter(kind_name):
    sensor, kind = SENSORS[kind_name], RESOURCE_KINDS[kind_name]
    acceptors = WAITERS[kind.waiter]["acceptors"]
    assert (
        set(sensor.FAILURE_STATES)
        == set(kind.failure_states)
        == {a["expected"] for a in acceptors if a["state"] == "failure"}
    )
    assert (
        set(sensor.SUCCESS_STATES)
        == set(kind.active_states)
        == {a["expected"] for a in acceptors if a["state"] == "success"}
    )
    assert not set(sensor.INTERMEDIATE_STATES) & (set(sensor.FAILURE_STATES) | set(sensor.SUCCESS_STATES))
    assert set(sensor.INTERMEDIATE_STATES) == set(kind.in_flight_states)
    assert sensor.FAILURE_MESSAGE


def _cases():
    for name, cls in sorted(SENSORS.items()):
        for state in cls.SUCCESS_STATES:
            yield name, state, True
        for state in cls.INTERMEDIATE_STATES:
            yield name, state, False
        for state in cls.FAILURE_STATES:
            yield name, state, AirflowException


@pytest.mark.parametrize(("kind_name", "state", "expected"), list(_cases()))
def test_poke(conn, kind_name, state, expected):
    kind = RESOURCE_KINDS[kind_name]
    getattr(conn, kind.describe).return_value = _described(kind, state)
    sensor = _sensor(SENSORS[kind_name])
    if expected is AirflowException:
        with pytest.raises(AirflowException, match="out of memory") as failure:
            sensor.poke({})
        assert ARN in str(failure.value) and state in str(failure.value)
    else:
        assert sensor.poke({}) is expected
    getattr(conn, kind.describe).assert_called_once_with(**{kind.arn_param: ARN})


def test_an_unknown_state_is_not_success(conn):
    conn.describe_batch_segment_job.return_value = {"batchSegmentJob": {"status": "SOMETHING NEW"}}
    assert _sensor(SENSORS["batch_segment_job"]).poke({}) is False


def test_campaign_update_sensor_on_a_never_updated_campaign_uses_the_campaign_status(conn):
    conn.describe_campaign.return_value = {"campaign": {"status": "ACTIVE"}}
    assert _sensor(SENSORS["campaign_update"]).poke({}) is True


@pytest.mark.parametrize("kind_name", sorted(SENSORS))
def test_deferrable_sensor_defers_to_the_kinds_trigger(conn, kind_name):
    kind = RESOURCE_KINDS[kind_name]
    getattr(conn, kind.describe).return_value = _described(kind, "CREATE IN_PROGRESS")
    with pytest.raises(TaskDeferred) as deferred:
        _sensor(SENSORS[kind_name], deferrable=True, max_retries=7).execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, TRIGGERS_BY_KIND[kind_name])
    assert (trigger.waiter_delay, trigger.attempts, trigger.return_value) == (5, 7, ARN)
    assert deferred.value.method_name == "execute_complete"


def test_deferrable_sensor_on_a_finished_job_does_not_defer(conn):
    conn.describe_solution_version.return_value = {"solutionVersion": {"status": "ACTIVE"}}
    assert _sensor(SENSORS["solution_version"], deferrable=True).execute({}) is None


def test_execute_complete_raises_on_an_error_event_with_the_reason(conn):
    conn.describe_batch_inference_job.return_value = {
        "batchInferenceJob": {"status": "CREATE FAILED", "failureReason": "bad input"}
    }
    sensor = _sensor(SENSORS["batch_inference_job"], deferrable=True)
    with pytest.raises(AirflowException, match="bad input") as failure:
        sensor.execute_complete({}, {"status": "error", "message": "waiter failed", "resource_arn": ARN})
    assert ARN in str(failure.value)
    sensor.execute_complete({}, {"status": "success", "resource_arn": ARN})


# -- against the local service: the sensor reads what the service says of a real job ----------------


def _local_sensor(cls, arn: str):
    return cls(task_id="s", resource_arn=arn, poke_interval=1)


def _poke_until_done(sensor, timeout: float = 60.0) -> list[bool]:
    """Poke as the sensor's loop would (faster); returns every answer, the last one True."""
    answers: list[bool] = []
    deadline = time.monotonic() + timeout
    while not (answers and answers[-1]):
        assert time.monotonic() < deadline, f"still not done after {timeout}s"
        answers.append(sensor.poke({}))
        time.sleep(0.05)
    return answers


def test_sensor_on_a_real_import_job_is_done_when_the_service_says_active(dataset, aws_clients):
    personalize = aws_clients("personalize")
    sensor = _local_sensor(SENSORS["dataset_import_job"], "")
    assert sensor.hook.conn  # the client is made before the job starts: the first poke sees it in flight
    sensor.resource_arn = personalize.create_dataset_import_job(
        jobName=f"sensed-{uuid.uuid4().hex[:8]}",
        datasetArn=dataset.arn,
        dataSource={"dataLocation": dataset.good},
    )["datasetImportJobArn"]
    answers = _poke_until_done(sensor)
    assert set(answers[:-1]) <= {False}
    job = personalize.describe_dataset_import_job(datasetImportJobArn=sensor.resource_arn)
    assert job["datasetImportJob"]["status"] == "ACTIVE"  # ACTIVE is final: it was so when the poke said done


def test_sensor_on_a_real_failing_import_job_fails_with_the_services_reason(dataset, aws_clients):
    arn = aws_clients("personalize").create_dataset_import_job(
        jobName=f"sensed-bad-{uuid.uuid4().hex[:8]}",
        datasetArn=dataset.arn,
        dataSource={"dataLocation": dataset.bad},
    )["datasetImportJobArn"]
    with pytest.raises(AirflowException, match="missing the following columns") as failure:
        _poke_until_done(_local_sensor(SENSORS["dataset_import_job"], arn))
    assert arn in str(failure.value) and "CREATE FAILED" in str(failure.value)
