"""``POST /events``: validated, then appended to the store's interactions, idempotently by event_id.

Browsing events go to ``store.events`` (event_id from ``store.events_event_id_seq``), a purchase
to ``store.orders`` with one ``store.order_items`` line at the product's price: exactly what the
export and event-sync queries already read. A client's ``event_id`` is kept as
``client_event_id`` (a uuid when it sends none); a retry with the same id adds nothing. Unknown
customers and products are rejected (422 naming the field), not created: the store owns them.
Another writer may insert events with ids of its own while the API runs; when one took the
sequence's next id, the sequence is moved past the table's ids and the insert retried once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg_pool import AsyncConnectionPool

from personalize_pipeline.config import PipelineConfig
from serving.database import Statements
from serving.errors import RequestProblem
from serving.models import EventIn, EventStored

PURCHASE = "purchase"
STORE_EVENT_TYPES = ("view", "add_to_cart", PURCHASE)  # what store.events (CHECK) and orders hold
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
EVENT_ID_KEY = "events_pkey"  # store.events' primary key (include/sql/store_schema.sql)
MILLISECONDS_FROM = 100_000_000_000  # seconds reach this in the year 5138; milliseconds did in 1973


def accepted_types(config: PipelineConfig) -> tuple[str, ...]:
    configured = config.datasets.interactions.event_types
    return tuple(t for t in configured if t in STORE_EVENT_TYPES) if configured else STORE_EVENT_TYPES


def occurred_at(event: EventIn, now: datetime, skew_seconds: int) -> datetime:
    """The event's time: its timestamp (checked to be plausible epoch seconds) or now."""
    if event.timestamp is None:
        return now
    if event.timestamp >= MILLISECONDS_FROM:
        raise RequestProblem("body.timestamp", "looks like milliseconds; send epoch seconds")
    if event.timestamp < EARLIEST.timestamp():
        raise RequestProblem("body.timestamp", f"before {EARLIEST.date()}; send epoch seconds")
    at = datetime.fromtimestamp(event.timestamp, UTC)
    if at > now + timedelta(seconds=skew_seconds):
        raise RequestProblem("body.timestamp", f"more than {skew_seconds} s in the future")
    return at


async def store_event(
    pool: AsyncConnectionPool,
    statements: Statements,
    config: PipelineConfig,
    event: EventIn,
    now: datetime,
) -> EventStored:
    types = accepted_types(config)
    if event.event_type not in types:
        raise RequestProblem("body.event_type", f"{event.event_type!r} is not one of {list(types)}")
    at = occurred_at(event, now, config.serving.max_future_skew_seconds)
    client_event_id = event.event_id or str(uuid.uuid4())
    query = statements.insert_purchase if event.event_type == PURCHASE else statements.insert_event
    params = {
        "user_id": event.user_id,
        "item_id": event.item_id,
        "event_type": event.event_type,
        "occurred_at": at,
        "client_event_id": client_event_id,
        "session_id": event.session_id,
        "recommendation_id": event.recommendation_id,
    }
    async with pool.connection() as conn:
        try:
            cur = await conn.execute(query, params, prepare=True)
        except psycopg.errors.UniqueViolation as error:
            if error.diag.constraint_name != EVENT_ID_KEY:
                raise
            await conn.execute(statements.reseat_event_ids)
            cur = await conn.execute(query, params, prepare=True)
        customer, product, inserted = await cur.fetchone()
    if not customer:
        raise RequestProblem("body.user_id", "no such customer in the store")
    if not product:
        raise RequestProblem("body.item_id", "no such product in the store")
    return EventStored(event_id=client_event_id, stored=inserted)
