"""
``python -m devenv.airflow_cli <airflow arguments>``: the ``airflow`` command on the UI's setup.

The demo and the UI command keep Airflow's home in ``.local/airflow`` and its metadata database
in the private PostgreSQL; a bare ``airflow`` would read ``~/airflow`` and its SQLite instead.
E.g. ``python -m devenv.airflow_cli backfill create --dag-id personalize_export ...``.
"""

from __future__ import annotations

import os
import sys

from devenv.airflow_env import configure
from devenv.postgres import LOCAL_DIR, airflow_database_url, database_url

LOCAL_ENDPOINT = "http://127.0.0.1:4566"  # the UI command's endpoint


def configure_local(endpoint: str = LOCAL_ENDPOINT) -> str:
    """Point Airflow at the demo's home, databases and endpoint; returns the store's URL."""
    db_url = database_url()
    configure(
        LOCAL_DIR / "airflow",
        db_url=db_url,
        aws_endpoint_url=endpoint,
        metadata_db_url=airflow_database_url(db_url),
    )
    return db_url


def main(argv: list[str]) -> None:
    configure_local()
    os.execv(sys.executable, [sys.executable, "-m", "airflow", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
