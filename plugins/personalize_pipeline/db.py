"""PostgreSQL connections built from Airflow connections.

psycopg 3 for everything but reading a COPY's output, which uses psycopg2 (see ``connect_copy_reader``).
"""

from __future__ import annotations

from typing import Any

import psycopg
from airflow.sdk import BaseHook
from psycopg import sql

from personalize_pipeline.sql_files import compose


def _connection_params(conn_id: str) -> dict[str, Any]:
    conn = BaseHook.get_connection(conn_id)
    params = {
        "host": conn.host,
        "port": conn.port or 5432,
        "user": conn.login,
        "password": conn.password or None,
        "dbname": conn.schema or "postgres",
        "application_name": "personalize-pipelines",
    }
    extra = conn.extra_dejson
    if "sslmode" in extra:
        params["sslmode"] = extra["sslmode"]
    return {k: v for k, v in params.items() if v is not None}


def connect(conn_id: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a psycopg connection from the Airflow connection ``conn_id``."""
    return psycopg.connect(**_connection_params(conn_id), autocommit=autocommit)


def connect_copy_reader(conn_id: str):
    """A psycopg2 connection, for ``copy_expert``: its loop over a COPY's rows runs in C.

    psycopg 3 hands each row of a ``COPY … TO STDOUT`` to Python (about 1 µs a row), which
    made the client, not the server, the slowest part of an export. psycopg2 is installed
    with the Postgres provider.
    """
    import psycopg2

    return psycopg2.connect(**_connection_params(conn_id))


def table_exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    """For readers, which create nothing: before the first write there is simply nothing to read."""
    name = sql.Identifier(schema, table).as_string(conn)
    return conn.execute(compose("catalog/table_exists.sql"), (name,)).fetchone()[0]


def set_local(conn: psycopg.Connection, name: str, value: str) -> None:
    """``SET LOCAL name = value`` with the value bound: it lasts until the end of the transaction."""
    conn.execute(compose("session/set_local.sql"), {"name": name, "value": value})


def run_setup(conn: psycopg.Connection, *names: str, schema: str, lock: str | None = None) -> None:
    """Run the setup files ``names`` (CREATE … IF NOT EXISTS) in a transaction of their own, committed
    before the caller's data transaction: inside it, a setup's CREATE INDEX held the table's share
    lock to the end, and two writers each waiting for the other's lock to insert deadlocked.
    ``lock`` (a file taking ``schema`` as a parameter) runs first, where concurrent setups must
    take turns."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("Setup runs in a transaction of its own: call it before the data's transaction.")
    with conn.transaction():
        if lock is not None:
            conn.execute(compose(lock), {"schema": schema})
        for name in names:
            conn.execute(compose(name, schema=schema))
