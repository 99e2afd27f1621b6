"""
Event sync: interactions newer than the last run go to Personalize through PutEvents.

The source query (include/sql/event_sync/new_interactions.sql) streams interactions after the
watermark in ingestion order, through a server-side cursor, ``CHUNK_ROWS`` at a time. The order
is (inserting transaction id, time, source key), read only below the snapshot's xmin, so a row
inserted late with an old time is still sent and a transaction that commits after a newer one
was read is not skipped (the query's comment says why). Each chunk is grouped per user and
session (PutEvents takes one userId and sessionId and 1-10 events per call) and sent; only when
every call of the chunk has succeeded does the watermark, kept in
``{cache_schema}.event_sync_state``, move to the chunk's last row, committed at once. A crash
resends at most one chunk, which is harmless: every eventId is the interaction's source key, and
Personalize uses an eventId once (later events with the same id are ignored).

Where a tracker starts: history up to the end of the newest complete export interval reaches
Personalize through the retraining DAGs' bulk imports, and a FULL import does not replace events
sent with PutEvents, so a tracker's first run starts there (:func:`initial_watermark`) and sends
only what is timed after it (``from_ts``); later runs send whatever was inserted since.

Throttling: the events client retries in botocore's adaptive mode (client-side rate limiting
plus backoff); a ThrottlingException that still gets through is retried here with jittered
exponential backoff before the task fails (and Airflow retries it).
"""

from __future__ import annotations

import logging
import random
import time as clock
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from botocore.config import Config
from botocore.exceptions import ClientError

from personalize_pipeline.config import PipelineConfig
from personalize_pipeline.import_plan import export_intervals
from personalize_pipeline.sql_files import compose, read_sql

log = logging.getLogger(__name__)

MAX_EVENTS_PER_CALL = 10  # the PutEvents limit
CHUNK_ROWS = 5_000  # rows fetched, sent and committed together
SEND_WORKERS = 4  # PutEvents calls in flight at once (the client is thread-safe)
CLIENT_RETRIES = {"mode": "adaptive", "max_attempts": 10}
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)
THROTTLE_ATTEMPTS = 6  # explicit attempts after the client's own retries gave up
THROTTLE_BASE_SECONDS = 1.0
THROTTLE_MAX_SECONDS = 60.0


class InteractionsDatasetMissing(RuntimeError):
    """The dataset group has no ACTIVE interactions dataset yet, so PutEvents has nowhere to write."""


@dataclass(frozen=True)
class Interaction:
    user_id: str
    item_id: str
    event_type: str
    occurred_at: datetime
    event_key: str
    ingest_xid: str = "0"  # the inserting transaction (xid8 as text): the ingestion order


@dataclass
class SyncResult:
    events: int = 0  # interactions sent (a resent eventId counts here; the service ignores it)
    calls: int = 0  # PutEvents requests that succeeded
    users: int = 0  # distinct users among the events
    chunks: int = 0  # watermark commits
    throttled: int = 0  # ThrottlingExceptions retried here (beyond the client's own retries)
    since: str = ""  # watermark before the run
    watermark: str = ""  # watermark after the run (time of the last interaction sent)
    until: str = ""  # exclusive upper bound of the run

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def session_id(user_id: str, occurred_at: datetime) -> str:
    """Deterministic session: the user's UTC day, so a resent event lands in the same session."""
    return f"{user_id}-{occurred_at.astimezone(UTC):%Y%m%d}"


def build_requests(tracking_id: str, rows: Iterable[Interaction]) -> list[dict[str, Any]]:
    """PutEvents requests for one chunk: per (user, session), in source order, 1-10 events each."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        key = (row.user_id, session_id(row.user_id, row.occurred_at))
        groups.setdefault(key, []).append(
            {
                "eventId": row.event_key,
                "eventType": row.event_type,
                "itemId": row.item_id,
                "sentAt": row.occurred_at,  # sent as epoch seconds
            }
        )
    return [
        {
            "trackingId": tracking_id,
            "userId": user,
            "sessionId": session,
            "eventList": events[start : start + MAX_EVENTS_PER_CALL],
        }
        for (user, session), events in groups.items()
        for start in range(0, len(events), MAX_EVENTS_PER_CALL)
    ]


def put_events_with_backoff(
    client: Any,
    request: dict[str, Any],
    *,
    attempts: int = THROTTLE_ATTEMPTS,
    base_seconds: float = THROTTLE_BASE_SECONDS,
    max_seconds: float = THROTTLE_MAX_SECONDS,
    sleep: Callable[[float], None] = clock.sleep,
) -> int:
    """Send one PutEvents request; returns how many throttled attempts preceded the success."""
    for attempt in range(1, attempts + 1):
        try:
            client.put_events(**request)
            return attempt - 1
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code not in THROTTLING_CODES or attempt == attempts:
                raise
            delay = min(max_seconds, base_seconds * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            log.warning(
                "PutEvents throttled (%s) for user %s; attempt %d of %d, waiting %.1fs.",
                code,
                request.get("userId"),
                attempt,
                attempts,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def send_chunk(client: Any, requests: Sequence[dict[str, Any]], workers: int = SEND_WORKERS) -> int:
    """Send every request of a chunk (a few at once); raises if any fails. Returns throttled retries."""
    if workers <= 1 or len(requests) <= 1:
        return sum(put_events_with_backoff(client, r) for r in requests)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="put-events") as pool:
        futures = [pool.submit(put_events_with_backoff, client, r) for r in requests]
        try:
            return sum(f.result() for f in as_completed(futures))
        except BaseException:
            for future in futures:  # the chunk is resent anyway: do not send the rest of it now
                future.cancel()
            raise


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def initial_watermark(cfg: PipelineConfig, until: datetime) -> datetime:
    """
    Where a tracker's first run (ending at ``until``) starts: the end of the newest export interval
    that has ended by ``until``, or ``start_date`` midnight UTC when none has ended yet.

    The retraining DAGs bulk-import the exported history, which covers everything up to the end of
    the last complete export interval; on AWS a FULL bulk import does not replace events sent with
    PutEvents, so sending that history here too would duplicate it. Event sync covers what is newer.
    """
    intervals = export_intervals(cfg.schedules.export or "@monthly", cfg.start_date, until)
    if intervals:
        return intervals[-1][1]
    return cfg.start


def _stream(
    source: psycopg.Connection, params: dict[str, Any], chunk_rows: int
) -> Iterator[list[Interaction]]:
    """Interactions after the watermark in chunks, through a server-side cursor (constant memory)."""
    with source.cursor(name="event_sync_interactions") as cur:
        cur.itersize = chunk_rows
        cur.execute(read_sql("event_sync/new_interactions.sql"), params)
        while rows := cur.fetchmany(chunk_rows):
            yield [Interaction(*row) for row in rows]


def sync_events(
    *,
    source: psycopg.Connection,
    state: psycopg.Connection,
    client: Any,
    tracking_id: str,
    tracker: str,
    schema: str,
    initial_ts: datetime,
    until: datetime,
    max_events: int,
    run_id: str,
    restart_from: datetime | None = None,
    chunk_rows: int = CHUNK_ROWS,
    workers: int = SEND_WORKERS,
) -> SyncResult:
    """
    Send the interactions inserted after the watermark and timed in [from_ts, until) to the
    tracker, in ingestion order, at most ``max_events`` of them.

    ``state`` holds the watermark and must be a connection of its own (it commits per chunk
    while ``source`` keeps its read transaction open for the cursor).
    """
    from personalize_pipeline.db import run_setup

    run_setup(state, "event_sync/setup.sql", schema=schema)
    with state.cursor() as cur:
        cur.execute(
            compose("event_sync/init_state.sql", schema=schema),
            {"tracker": tracker, "initial_ts": initial_ts},
        )
        if restart_from is not None:
            cur.execute(
                compose("event_sync/restart_state.sql", schema=schema),
                {"tracker": tracker, "restart_ts": restart_from, "run_id": run_id},
            )
            if cur.rowcount:
                log.info("Watermark of %s moved to %s for this run.", tracker, restart_from.isoformat())
        since_ts, since_key, _, _, since_xid, from_ts = cur.execute(
            compose("event_sync/read_state.sql", schema=schema), {"tracker": tracker}
        ).fetchone()
    state.commit()

    result = SyncResult(since=_iso(since_ts), watermark=_iso(since_ts), until=_iso(until))
    if from_ts >= until:
        log.info("Sending starts at %s, not before the run's end %s; nothing to send.", from_ts, until)
        return result
    users: set[str] = set()
    params = {
        "since_xid": since_xid,
        "since": since_ts,
        "since_key": since_key,
        "from_ts": from_ts,
        "until": until,
        "max_events": max_events,
    }
    advance = compose("event_sync/advance_state.sql", schema=schema)
    if source.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        source.read_only = True  # the source is only read; say so to the server
    for chunk in _stream(source, params, chunk_rows):
        requests = build_requests(tracking_id, chunk)
        result.throttled += send_chunk(client, requests, workers)
        last = chunk[-1]
        state.execute(
            advance,
            {
                "tracker": tracker,
                "last_xid": last.ingest_xid,
                "last_ts": last.occurred_at,
                "last_key": last.event_key,
                "sent": len(chunk),
                "run_id": run_id,
            },
        )
        state.commit()
        users.update(row.user_id for row in chunk)
        result.events += len(chunk)
        result.calls += len(requests)
        result.chunks += 1
        result.watermark = _iso(last.occurred_at)
        log.info(
            "Sent %d events in %d PutEvents calls; watermark now %s %s.",
            result.events,
            result.calls,
            result.watermark,
            last.event_key,
        )
    source.rollback()  # ends the read transaction (and the cursor)
    result.users = len(users)
    if result.events >= max_events:
        log.info("Reached max_events_per_run (%d); the next run continues from the watermark.", max_events)
    return result


def events_client(aws_conn_id: str):
    """The hook's personalize-events client, retrying in adaptive mode on top of the connection's config."""
    from personalize_provider.hooks.personalize import PersonalizeHook

    base = PersonalizeHook(aws_conn_id=aws_conn_id).config
    hook = PersonalizeHook(aws_conn_id=aws_conn_id, config=base.merge(Config(retries=dict(CLIENT_RETRIES))))
    return hook, hook.events_client


def require_interactions_dataset(hook: Any, dataset_group_arn: str) -> str:
    """ARN of the group's ACTIVE interactions dataset; PutEvents writes there."""
    for summary in hook.iter_list("list_datasets", "datasets", datasetGroupArn=dataset_group_arn):
        if str(summary.get("datasetType", "")).upper() == "INTERACTIONS":
            if summary.get("status") != "ACTIVE":
                raise InteractionsDatasetMissing(
                    f"Interactions dataset {summary['datasetArn']} is {summary.get('status')}, not ACTIVE."
                )
            return summary["datasetArn"]
    raise InteractionsDatasetMissing(
        f"Dataset group {dataset_group_arn} has no interactions dataset yet; the export/retrain DAG "
        "creates it."
    )


def run_event_sync(
    *,
    cfg: PipelineConfig,
    tracking_id: str,
    dataset_group_arn: str,
    until: datetime,
    run_id: str,
    restart_from: datetime | None = None,
) -> SyncResult:
    """The DAG task's work: connections and clients from the configuration, then :func:`sync_events`."""
    from personalize_pipeline.db import connect

    hook, client = events_client(cfg.connections.aws)
    require_interactions_dataset(hook, dataset_group_arn)
    with connect(cfg.connections.source_db) as source, connect(cfg.connections.cache_db) as state:
        # One sync per tracker at a time, whatever triggered it; released when the session ends.
        locked = state.execute(
            "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
            [f"event_sync:{cfg.event_sync.tracker_name}"],
        ).fetchone()[0]
        state.commit()
        if not locked:
            raise RuntimeError(f"Another event sync of {cfg.event_sync.tracker_name} is running.")
        return sync_events(
            source=source,
            state=state,
            client=client,
            tracking_id=tracking_id,
            tracker=cfg.event_sync.tracker_name,
            schema=cfg.cache_schema,
            initial_ts=initial_watermark(cfg, until),
            until=until,
            max_events=cfg.event_sync.max_events_per_run,
            run_id=run_id,
            restart_from=restart_from,
        )
