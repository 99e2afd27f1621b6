"""PostgreSQL connections built from Airflow connections (psycopg 3, for COPY streaming)."""

from __future__ import annotations

import psycopg
from airflow.sdk import BaseHook
from psycopg import sql


def connect(conn_id: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a psycopg connection from the Airflow connection ``conn_id``."""
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
    return psycopg.connect(**{k: v for k, v in params.items() if v is not None}, autocommit=autocommit)


def table_exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    """For readers, which create nothing: before the first write there is simply nothing to read."""
    name = sql.Identifier(schema, table).as_string(conn)
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]
