"""
The event-sync DAG with dag.test() against the local endpoint and a real PostgreSQL: the first
run sends only the interactions after the end of the last export interval (the bulk imports hold
the history before it), an idle run sends nothing, new store rows are sent exactly once, a
watermark moved back resends without duplicating, a run that fails mid-way resumes from its last
committed chunk, and max_events_per_run caps a run.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import yaml

pytestmark = pytest.mark.e2e

GROUP = "event-sync-e2e"
TRACKER = f"{GROUP}-events"
START = datetime(2025, 11, 1, tzinfo=UTC)  # the configuration's start_date
END = datetime(2026, 11, 1, tzinfo=UTC)  # after the tiny data's last interaction (2026-10-31)
# Quarterly exports, so that the last interval ending by END leaves a month of data to sync:
# intervals from 2026-01-01, the last one ending by END ends 2026-10-01, the initial watermark.
EXPORT = "@quarterly"
EXPORTED = datetime(2026, 10, 1, tzinfo=UTC)
RETRIES = {"count": 1, "delay_seconds": 1, "max_delay_minutes": 1}  # failures stay fast
FAST = {"poll_seconds": 1}
SOURCE_SQL = """
SELECT customer_id, product_id, event_type, extract(epoch FROM occurred_at)::bigint
FROM store.events WHERE occurred_at >= %(start)s AND occurred_at < %(end)s
UNION ALL
SELECT o.customer_id, oi.product_id, 'purchase', extract(epoch FROM o.ordered_at)::bigint
FROM store.orders o JOIN store.order_items oi USING (order_id)
WHERE o.ordered_at >= %(start)s AND o.ordered_at < %(end)s
"""


def _query(url: str, sql: str, params=None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _source(url: str, start: datetime, end: datetime) -> list[tuple]:
    return sorted(_query(url, SOURCE_SQL, {"start": start, "end": end}))


@pytest.fixture(scope="module")
def env(pipeline_env, aws_clients, tmp_path_factory):
    """Tiny store data, a configuration of our own group and tracker, and the group's interactions dataset."""
    from devenv import datagen
    from personalize_pipeline.config import DEFAULT_PATH, PIPELINES_DIR_ENV, load_config

    url = pipeline_env["database_url"]
    datagen.load(url, datagen.generate("tiny"))
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw.update(dataset_group=GROUP, start_date=START.date().isoformat(), poll_seconds=1)
    raw["event_sync"]["tracker_name"] = TRACKER
    raw["schedules"]["export"] = EXPORT
    raw["retries"] = RETRIES
    path = tmp_path_factory.mktemp("event-sync-config") / "personalize.yaml"
    path.write_text(yaml.safe_dump(raw))
    previous = os.environ.get(PIPELINES_DIR_ENV)
    os.environ[PIPELINES_DIR_ENV] = str(path.parent)
    cfg = load_config()

    # The interactions dataset is the export/retrain DAGs' job; made here the way they make it.
    from local_aws.testing import wait_for

    personalize = aws_clients("personalize")
    group = personalize.create_dataset_group(name=GROUP)["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
    spec = cfg.dataset_specs()[0]
    schema = personalize.create_schema(
        name=cfg.resource_name("interactions", "sync"), schema=json.dumps(spec.schema)
    )
    dataset = personalize.create_dataset(
        name=cfg.resource_name("interactions"),
        datasetGroupArn=group,
        schemaArn=schema["schemaArn"],
        datasetType="Interactions",
    )["datasetArn"]
    wait_for(lambda: personalize.describe_dataset(datasetArn=dataset)["dataset"])
    stored = (next(tmp_path_factory.getbasetemp().glob("local-aws*")) / "datasets", dataset)
    yield {**pipeline_env, "cfg": cfg, "group": group, "stored": stored, "personalize": personalize}
    if previous is None:
        os.environ.pop(PIPELINES_DIR_ENV, None)
    else:
        os.environ[PIPELINES_DIR_ENV] = previous


def _stored(env) -> list[tuple]:
    """The rows the local service holds in the group's interactions dataset, read as its training
    reads them: the imported file plus the events PutEvents appended."""
    from local_aws.personalize.imports import DatasetFiles

    root, dataset = env["stored"]
    frame = DatasetFiles(root).load(dataset)
    if frame is None:
        return []
    frame = frame[["USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP"]]
    return sorted((u, i, e, int(t)) for u, i, e, t in frame.itertuples(index=False))


def _run(logical_date: datetime, **conf):
    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    run = bag.get_dag("personalize_event_sync").test(logical_date=logical_date, run_conf={**FAST, **conf})
    assert str(run.state) == "success", {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    return run, run.get_task_instance("send_events").xcom_pull(task_ids="send_events")


def _state(env) -> tuple:
    return _query(
        env["database_url"],
        "SELECT last_ts, last_key, events_sent, run_id FROM personalize_cache.event_sync_state "
        "WHERE tracker = %s",
        [TRACKER],
    )[0]


@pytest.fixture(scope="module")
def first(env):
    return _run(END)


def test_the_initial_watermark_is_the_end_of_the_last_export_interval(env):
    from personalize_pipeline.event_sync import initial_watermark

    assert initial_watermark(env["cfg"], END) == EXPORTED
    assert initial_watermark(env["cfg"], datetime(2026, 1, 15, tzinfo=UTC)) == START  # none ended yet


def test_first_run_sends_every_interaction_after_the_last_export_interval(env, first):
    run, counts = first
    source = _source(env["database_url"], EXPORTED, END)
    assert source, "the tiny data set has no interactions after the last export interval"
    assert _source(env["database_url"], START, EXPORTED), "no history for the bulk imports"
    assert counts["since"] == EXPORTED.isoformat()
    assert counts["until"] == END.isoformat()
    assert counts["events"] == len(source)
    assert counts["users"] == len({row[0] for row in source})
    # PutEvents takes 1-10 events of one user per call.
    assert len(source) / 10 <= counts["calls"] <= len(source)
    assert _stored(env) == source


def test_watermark_is_the_last_interaction_sent(env, first):
    run, counts = first
    last_ts, last_key, sent, run_id = _state(env)
    newest = _query(
        env["database_url"],
        "SELECT max(t) FROM (SELECT max(occurred_at) t FROM store.events "
        "UNION ALL SELECT max(ordered_at) FROM store.orders) x",
    )[0][0]
    assert last_ts == newest
    assert last_key.startswith(("e:", "o:"))
    assert sent == counts["events"]
    assert run_id == run.run_id
    assert counts["watermark"] == newest.astimezone(UTC).isoformat()


@pytest.fixture(scope="module")
def idle(env, first):
    return _run(END + timedelta(minutes=1))


def test_a_run_without_new_rows_sends_nothing(env, first, idle):
    _, counts = idle
    assert (counts["events"], counts["calls"]) == (0, 0)
    assert len(_stored(env)) == first[1]["events"]


@pytest.fixture(scope="module")
def new_rows(env, idle):
    """Three browsing events and a two-line order after the last run; one event after the next run ends."""
    with psycopg.connect(env["database_url"]) as conn:
        customer, product_a, product_b = conn.execute(
            "SELECT (SELECT min(customer_id) FROM store.customers), "
            "(SELECT min(product_id) FROM store.products), (SELECT max(product_id) FROM store.products)"
        ).fetchone()
        next_id = conn.execute("SELECT max(event_id) + 1 FROM store.events").fetchone()[0]
        for n, (minutes, kind) in enumerate([(10, "view"), (11, "view"), (12, "add_to_cart"), (150, "view")]):
            conn.execute(
                "INSERT INTO store.events VALUES (%s, %s, %s, %s, %s)",
                (next_id + n, customer, product_a, kind, END + timedelta(minutes=minutes)),
            )
        conn.execute(
            "INSERT INTO store.orders VALUES ('O-SYNC-1', %s, %s)", (customer, END + timedelta(minutes=20))
        )
        conn.execute(
            "INSERT INTO store.order_items VALUES ('O-SYNC-1', 1, %s, 1, 9.99), ('O-SYNC-1', 2, %s, 2, 5.00)",
            (product_a, product_b),
        )
    return _run(END + timedelta(hours=1))


def test_new_rows_are_sent_once_and_later_ones_wait(env, first, new_rows):
    _, counts = new_rows
    sent = _source(env["database_url"], END, END + timedelta(hours=1))
    assert len(sent) == 5
    assert counts["events"] == 5
    assert counts["users"] == 1
    assert counts["calls"] == 1  # one user, one day: one PutEvents call with five events
    assert _stored(env) == sorted(_source(env["database_url"], EXPORTED, END) + sent)
    last_ts, last_key, _, _ = _state(env)
    assert (last_ts, last_key) == (END + timedelta(minutes=20), "o:O-SYNC-1:2")


@pytest.fixture(scope="module")
def resent(env, new_rows):
    """The watermark moved back to start_date: every interaction goes out, those sent already again."""
    return _run(END + timedelta(hours=1, minutes=1), restart_from=START.isoformat())


def test_resending_after_moving_the_watermark_back_adds_no_duplicates(env, first, new_rows, resent):
    _, counts = resent
    everything = _source(env["database_url"], START, END + timedelta(hours=1))
    assert counts["events"] == len(everything)
    assert counts["since"] == START.isoformat()
    # Each row once, though the ones after EXPORTED went out twice: repeated eventIds are ignored.
    assert _stored(env) == sorted(everything)
    assert _state(env)[:2] == (END + timedelta(minutes=20), "o:O-SYNC-1:2")


class _FailsAfter:
    """The real events client, failing (like a dropped connection) after ``calls`` requests."""

    def __init__(self, client, calls: int):
        self.client, self.left = client, calls

    def put_events(self, **request):
        if self.left == 0:
            raise ConnectionError("connection reset")
        self.left -= 1
        return self.client.put_events(**request)


def test_a_failed_run_resumes_from_its_last_committed_chunk(env, aws_clients, resent):
    from personalize_pipeline.event_sync import initial_watermark, sync_events

    cfg = env["cfg"]
    tracker_arn = env["personalize"].list_event_trackers(datasetGroupArn=env["group"])["eventTrackers"][0][
        "eventTrackerArn"
    ]
    tracking_id = env["personalize"].describe_event_tracker(eventTrackerArn=tracker_arn)["eventTracker"][
        "trackingId"
    ]
    client = aws_clients("personalize-events")
    before = _stored(env)
    until = END + timedelta(hours=1)
    everything = _source(env["database_url"], START, until)
    common = dict(
        tracking_id=tracking_id,
        tracker=TRACKER,
        schema=cfg.cache_schema,
        initial_ts=initial_watermark(cfg, until),
        until=until,
        max_events=1_000_000,
        chunk_rows=100,
        workers=1,
    )
    url = env["database_url"]
    sent_before = _state(env)[2]
    with psycopg.connect(url) as source, psycopg.connect(url) as state, pytest.raises(ConnectionError):
        sync_events(
            source=source,
            state=state,
            client=_FailsAfter(client, 30),
            run_id="crash",
            restart_from=START,
            **common,
        )
    last_ts, _, sent_after, run_id = _state(env)
    committed = sent_after - sent_before
    assert run_id == "crash"
    assert 0 < committed < len(everything) and committed % 100 == 0  # whole chunks only
    assert START < last_ts < END

    with psycopg.connect(url) as source, psycopg.connect(url) as state:
        result = sync_events(
            source=source, state=state, client=client, run_id="crash", restart_from=START, **common
        )
    assert result.since == last_ts.astimezone(UTC).isoformat()  # a retry of the same run does not restart
    assert result.events == len(everything) - committed
    assert _stored(env) == before  # nothing was stored twice
    assert _state(env)[:2] == (END + timedelta(minutes=20), "o:O-SYNC-1:2")


def test_max_events_per_run_caps_a_run_and_the_next_one_continues(env, aws_clients, resent):
    from personalize_pipeline.event_sync import initial_watermark, sync_events

    cfg = env["cfg"]
    tracker_arn = env["personalize"].list_event_trackers(datasetGroupArn=env["group"])["eventTrackers"][0][
        "eventTrackerArn"
    ]
    tracking_id = env["personalize"].describe_event_tracker(eventTrackerArn=tracker_arn)["eventTracker"][
        "trackingId"
    ]
    until = END + timedelta(hours=1)
    url = env["database_url"]
    common = dict(
        client=aws_clients("personalize-events"),
        tracking_id=tracking_id,
        tracker=TRACKER,
        schema=cfg.cache_schema,
        initial_ts=initial_watermark(cfg, until),
        until=until,
        max_events=250,
        chunk_rows=100,
    )
    with psycopg.connect(url) as source, psycopg.connect(url) as state:
        capped = sync_events(source=source, state=state, run_id="capped", restart_from=START, **common)
    assert (capped.events, capped.chunks) == (250, 3)
    with psycopg.connect(url) as source, psycopg.connect(url) as state:
        rest = sync_events(source=source, state=state, run_id="next", **{**common, "max_events": 1_000_000})
    assert rest.since == capped.watermark
    assert capped.events + rest.events == len(_source(url, START, until))
    assert _state(env)[:2] == (END + timedelta(minutes=20), "o:O-SYNC-1:2")


def _tracking_id(env) -> str:
    personalize = env["personalize"]
    tracker_arn = personalize.list_event_trackers(datasetGroupArn=env["group"])["eventTrackers"][0][
        "eventTrackerArn"
    ]
    return personalize.describe_event_tracker(eventTrackerArn=tracker_arn)["eventTracker"]["trackingId"]


def _sync(env, aws_clients, run_id: str, until: datetime):
    from personalize_pipeline.event_sync import initial_watermark, sync_events

    cfg, url = env["cfg"], env["database_url"]
    with psycopg.connect(url) as source, psycopg.connect(url) as state:
        return sync_events(
            source=source,
            state=state,
            client=aws_clients("personalize-events"),
            tracking_id=_tracking_id(env),
            tracker=TRACKER,
            schema=cfg.cache_schema,
            initial_ts=initial_watermark(cfg, until),
            until=until,
            max_events=1_000_000,
            run_id=run_id,
        )


def _insert_event(conn, event_id: int, occurred_at: datetime) -> None:
    customer, product = conn.execute(
        "SELECT (SELECT min(customer_id) FROM store.customers), (SELECT min(product_id) FROM store.products)"
    ).fetchone()
    conn.execute(
        "INSERT INTO store.events (event_id, customer_id, product_id, event_type, occurred_at) "
        "VALUES (%s, %s, %s, 'view', %s)",
        (event_id, customer, product, occurred_at),
    )


def test_a_row_inserted_late_with_an_older_time_is_sent_by_the_next_run(env, aws_clients, resent):
    url = env["database_url"]
    until = END + timedelta(hours=3)  # past every row: the one at END + 150 min holds back the rest
    assert _sync(env, aws_clients, "late-before", until).events == 1  # that row, due now
    assert _sync(env, aws_clients, "late-again", until).events == 0  # caught up
    late = END - timedelta(days=3)  # older than the watermark's time, after the last export interval
    with psycopg.connect(url) as conn:
        _insert_event(conn, 9_000_001, late)
    result = _sync(env, aws_clients, "late-after", until)
    assert result.events == 1
    assert _state(env)[:2] == (late, "e:9000001")
    assert sorted(_stored(env)) == sorted(_source(url, START, until))


def test_an_open_transaction_holding_a_lower_key_is_not_skipped(env, aws_clients, resent):
    url = env["database_url"]
    until = END + timedelta(hours=3)
    _sync(env, aws_clients, "open-before", until)
    with psycopg.connect(url) as slow:
        _insert_event(slow, 9_000_101, END - timedelta(days=2))  # its transaction id is the lower one
        with psycopg.connect(url) as fast:
            _insert_event(fast, 9_000_102, END - timedelta(days=1))  # commits first
        held = _sync(env, aws_clients, "open-during", until)
        assert held.events == 0  # the committed row waits behind the open transaction
    released = _sync(env, aws_clients, "open-after", until)  # `slow` committed on leaving the block
    assert released.events == 2
    assert _state(env)[1] == "e:9000102"
    assert sorted(_stored(env)) == sorted(_source(url, START, until))
