"""The store database for the demo and tests.

A user's server wins (``PIPELINE_DATABASE_URL``); otherwise a private pgserver PostgreSQL under
``<repo>/.local/pgdata`` is started once and left running, so Airflow processes and the demo share it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = REPO_ROOT / ".local"
PGDATA = LOCAL_DIR / "pgdata"
SCHEMA_SQL = REPO_ROOT / "include" / "sql" / "store_schema.sql"
URL_ENV = "PIPELINE_DATABASE_URL"


def _pgserver():
    """Import pgserver lazily: platformdirs reads XDG_RUNTIME_DIR at import, and warns when it is unset."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = LOCAL_DIR / "run"
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    import pgserver

    return pgserver


def database_url() -> str:
    """URL of the store database, starting the shared embedded server if no URL is configured."""
    url = os.environ.get(URL_ENV)
    if url:
        return url
    LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process so other processes can reuse it.
    server = _pgserver().get_server(PGDATA, cleanup_mode=None)
    return server.get_uri()


def stop_embedded() -> bool:
    """Stop the shared embedded server if it runs; returns whether it was running."""
    pgserver = _pgserver()
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(PGDATA) if PGDATA.exists() else None
    if info is None or not info.is_running():
        return False
    # pgserver runs postgres as its own system user when we are root; pg_ctl must run as that owner.
    user = "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=PGDATA, user=user)
    return True


@contextlib.contextmanager
def embedded_server(data_dir: str | os.PathLike[str]) -> Iterator[str]:
    """A throwaway server in data_dir for tests; stopped and its data removed on exit."""
    data_dir = Path(data_dir)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = _pgserver().get_server(data_dir, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def airflow_connection_json(url: str) -> str:
    """Airflow connection JSON (for ``AIRFLOW_CONN_<ID>``) reaching the same server as url.

    PostgresHook passes host/port/login/password/schema and every extra key to the driver, and libpq
    treats a host starting with '/' as a unix-socket directory, so the embedded server works as is.
    """
    params = conninfo_to_dict(url)
    conn: dict[str, object] = {"conn_type": "postgres"}
    for field, key in (("host", "host"), ("login", "user"), ("password", "password"), ("schema", "dbname")):
        value = params.pop(key, None)
        if value:
            conn[field] = value
    port = params.pop("port", None)
    if port:
        conn["port"] = int(port)
    if params:
        conn["extra"] = {key: str(value) for key, value in params.items()}
    return json.dumps(conn)


def airflow_database_url(url: str, name: str = "airflow") -> str:
    """SQLAlchemy URL of Airflow's metadata database: database ``name`` on url's server, created if missing.

    SQLite (Airflow's default) locks the whole file per write, so a CLI command such as ``airflow
    backfill create`` failed with "database is locked" while the scheduler ran.
    """
    from sqlalchemy.engine import URL

    with psycopg.connect(url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(url)
    host = str(params.get("host") or "")
    socket_dir = host.startswith("/")
    address = URL.create(
        "postgresql+psycopg2",
        username=params.get("user"),
        password=params.get("password") or None,
        host=None if socket_dir else host or None,
        port=None if socket_dir or not params.get("port") else int(params["port"]),
        database=name,
    ).render_as_string(hide_password=False)
    # A socket directory goes in the query, unescaped: Airflow's config reads '%' as interpolation.
    if not socket_dir:
        return address
    return f"{address}?host={host}" + (f"&port={params['port']}" if params.get("port") else "")


def apply_schema(url: str) -> None:
    """Create the store schema and tables if missing (the SQL file is idempotent)."""
    with psycopg.connect(url) as conn:
        conn.execute(SCHEMA_SQL.read_text())
