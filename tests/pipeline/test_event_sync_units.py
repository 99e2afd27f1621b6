"""Event sync's request building, throttling, client setup and initial watermark; mock clients only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import yaml
from botocore.exceptions import ClientError

from personalize_pipeline import event_sync
from personalize_pipeline.config import DEFAULT_PATH, parse_config
from personalize_pipeline.event_sync import Interaction

T0 = datetime(2026, 3, 1, 23, 58, tzinfo=UTC)


def _rows(
    user: str, n: int, start: datetime = T0, step: timedelta = timedelta(seconds=1)
) -> list[Interaction]:
    return [Interaction(user, f"P{i}", "view", start + i * step, f"e:{user}{i}") for i in range(n)]


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "PutEvents")


def test_requests_hold_one_user_and_session_and_at_most_ten_events():
    rows = _rows("U1", 23) + _rows("U2", 3)
    requests = event_sync.build_requests("track", rows)
    assert [(r["userId"], len(r["eventList"])) for r in requests] == [
        ("U1", 10),
        ("U1", 10),
        ("U1", 3),
        ("U2", 3),
    ]
    assert {r["trackingId"] for r in requests} == {"track"}
    sent = [e["eventId"] for r in requests for e in r["eventList"]]
    assert sent == [row.event_key for row in rows]  # every row once, ids from the source keys


def test_a_new_utc_day_starts_a_new_session():
    rows = _rows("U1", 4, step=timedelta(minutes=1))  # 23:58, 23:59, 00:00, 00:01
    requests = event_sync.build_requests("track", rows)
    assert [(r["sessionId"], len(r["eventList"])) for r in requests] == [
        ("U1-20260301", 2),
        ("U1-20260302", 2),
    ]


def test_session_ids_do_not_depend_on_the_database_time_zone():
    local = T0.astimezone(ZoneInfo("Asia/Tokyo"))  # already 2 March there
    assert event_sync.session_id("U1", local) == event_sync.session_id("U1", T0) == "U1-20260301"


def test_events_carry_type_item_and_occurrence_time():
    row = Interaction("U1", "P9", "purchase", T0, "o:O1:2")
    (request,) = event_sync.build_requests("track", [row])
    assert request["eventList"] == [
        {"eventId": "o:O1:2", "eventType": "purchase", "itemId": "P9", "sentAt": T0}
    ]


def test_throttling_is_retried_with_growing_waits():
    client = mock.Mock()
    client.put_events.side_effect = [_error("ThrottlingException"), _error("ThrottlingException"), {}]
    waits: list[float] = []
    retried = event_sync.put_events_with_backoff(client, {"userId": "U1"}, base_seconds=1, sleep=waits.append)
    assert retried == 2
    assert client.put_events.call_count == 3
    assert 0.5 <= waits[0] <= 1 and 1 <= waits[1] <= 2


def test_throttling_that_does_not_stop_fails_the_task():
    client = mock.Mock()
    client.put_events.side_effect = _error("ThrottlingException")
    with pytest.raises(ClientError):
        event_sync.put_events_with_backoff(client, {}, attempts=3, sleep=lambda _: None)
    assert client.put_events.call_count == 3


def test_other_errors_are_not_retried():
    client = mock.Mock()
    client.put_events.side_effect = _error("InvalidInputException")
    with pytest.raises(ClientError, match="InvalidInputException"):
        event_sync.put_events_with_backoff(client, {}, sleep=lambda _: None)
    assert client.put_events.call_count == 1


@pytest.mark.parametrize("workers", [1, 4])
def test_a_chunk_sends_every_request_and_counts_throttled_retries(workers):
    client = mock.Mock()
    client.put_events.side_effect = [_error("ThrottlingException")] + [{}] * 5
    requests = event_sync.build_requests("track", _rows("U1", 15) + _rows("U2", 12) + _rows("U3", 1))
    with mock.patch.object(event_sync.clock, "sleep"):
        assert event_sync.send_chunk(client, requests, workers=workers) == 1
    assert client.put_events.call_count == len(requests) + 1 == 6


def test_a_failing_call_fails_the_chunk():
    client = mock.Mock()
    client.put_events.side_effect = [{}, _error("InvalidInputException")] + [{}] * 10
    requests = event_sync.build_requests("track", _rows("U1", 50))
    with pytest.raises(ClientError):
        event_sync.send_chunk(client, requests, workers=2)


def _config(**schedules):
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw["start_date"] = "2025-11-01"
    raw["schedules"].update(schedules)
    return parse_config(raw, DEFAULT_PATH)


def test_the_initial_watermark_is_the_end_of_the_last_export_interval():
    # The bulk imports hold the history up to there; event sync sends only what is newer.
    cfg = _config(export="@monthly")
    assert event_sync.initial_watermark(cfg, datetime(2026, 10, 15, tzinfo=UTC)) == datetime(
        2026, 10, 1, tzinfo=UTC
    )
    # An interval that ends exactly at the run's end has ended.
    assert event_sync.initial_watermark(cfg, datetime(2026, 11, 1, tzinfo=UTC)) == datetime(
        2026, 11, 1, tzinfo=UTC
    )
    # No schedule: the export DAG's own default, monthly.
    assert event_sync.initial_watermark(_config(export=None), datetime(2026, 10, 15, tzinfo=UTC)) == datetime(
        2026, 10, 1, tzinfo=UTC
    )
    quarterly = _config(export="@quarterly")
    assert event_sync.initial_watermark(quarterly, datetime(2026, 11, 1, tzinfo=UTC)) == datetime(
        2026, 10, 1, tzinfo=UTC
    )


def test_the_initial_watermark_is_start_date_midnight_utc_before_the_first_interval_ends():
    cfg = _config(export="@monthly")
    for until in (datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 11, 30, 23, 59, tzinfo=UTC)):
        assert event_sync.initial_watermark(cfg, until) == datetime(2025, 11, 1, tzinfo=UTC)


def test_the_events_client_retries_adaptively_and_keeps_the_connection_settings(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SYNC_TEST",
        '{"conn_type": "aws", "login": "unit", "password": "unit", "extra": {"region_name": "eu-west-1", '
        '"endpoint_url": "http://127.0.0.1:9", "config_kwargs": {"connect_timeout": 7}}}',
    )
    hook, client = event_sync.events_client("sync_test")
    assert client.meta.service_model.service_name == "personalize-events"
    # botocore's max_attempts counts retries: ten retries after the first attempt.
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 11}
    assert client.meta.config.connect_timeout == 7
    assert client.meta.endpoint_url == "http://127.0.0.1:9"


def test_a_group_without_an_active_interactions_dataset_is_reported():
    hook = mock.Mock()
    hook.iter_list.return_value = [{"datasetType": "ITEMS", "status": "ACTIVE", "datasetArn": "a"}]
    with pytest.raises(event_sync.InteractionsDatasetMissing, match="no interactions dataset"):
        event_sync.require_interactions_dataset(hook, "group")
    hook.iter_list.return_value = [
        {"datasetType": "Interactions", "status": "CREATE PENDING", "datasetArn": "b"}
    ]
    with pytest.raises(event_sync.InteractionsDatasetMissing, match="not ACTIVE"):
        event_sync.require_interactions_dataset(hook, "group")
    hook.iter_list.return_value = [{"datasetType": "Interactions", "status": "ACTIVE", "datasetArn": "c"}]
    assert event_sync.require_interactions_dataset(hook, "group") == "c"
