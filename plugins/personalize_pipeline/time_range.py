"""
Interactions no export interval will ever cover: dated in the future, or before the pipeline's
``start_date``. A millisecond epoch stored through ``to_timestamp()`` lands in year 58756 and
would silently never be exported: the export fails instead, naming the first such row. Rows
before ``start_date`` are only logged: starting later than the store's history is how a team
limits what the models learn from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg import sql

from personalize_pipeline.db import connect
from personalize_pipeline.sql_files import compose, read_sql

# Clocks differ: an event up to this far past the run's own time is not "in the future".
CLOCK_SKEW = timedelta(days=1)


class OutOfRangeError(ValueError):
    """Rows the export would lose for ever; the message names the first one."""


@dataclass(frozen=True)
class Outside:
    label: str
    total: int
    first: tuple  # USER_ID, ITEM_ID, TIMESTAMP

    def __str__(self) -> str:
        return f"{self.total} interaction(s) {self.label} are not exported; first: {_row(self.first)}"


def check_interactions_range(
    *, db_conn_id: str, query_file: str, start_date: datetime, now: datetime
) -> Outside | None:
    """Raise :class:`OutOfRangeError` for rows after ``now`` (plus clock skew); return what lies
    before ``start_date``, for the caller to log."""
    future = now + CLOCK_SKEW
    with connect(db_conn_id) as conn:
        ahead = _first_outside(conn, query_file, future, "infinity")
        before = _first_outside(conn, query_file, "-infinity", start_date)
    if ahead is not None:
        raise OutOfRangeError(
            f"include/sql/{query_file}: {ahead[3]} row(s) dated after {future:%Y-%m-%d %H:%M} UTC, "
            f"which no export interval will ever cover; first: {_row(ahead)}. Fix their timestamps "
            "in the store (a millisecond epoch read as seconds is a common cause)."
        )
    if before is None:
        return None
    return Outside(f"before start_date {start_date:%Y-%m-%d}", before[3], before[:3])


def _first_outside(conn, query_file: str, start: datetime | str, end: datetime | str) -> tuple | None:
    """The dataset's own interval query over [start, end): its first row and the row count."""
    statement = compose("extract/outside_intervals.sql", query=sql.SQL(read_sql(query_file)))
    return conn.execute(statement, {"start": start, "end": end}).fetchone()


def _row(row: tuple) -> str:
    user, item, ts = row[:3]
    return f"USER_ID={user!r} ITEM_ID={item!r} TIMESTAMP={ts} ({_when(ts)})"


def _when(epoch: int) -> str:
    try:
        return f"{datetime.fromtimestamp(epoch, UTC):%Y-%m-%d %H:%M:%S} UTC"
    except (OverflowError, OSError, ValueError):
        return f"year {1970 + int(epoch) // 31_556_952}"
