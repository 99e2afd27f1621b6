"""Point Airflow at this project and at the local (or configured) AWS endpoint and database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from devenv.postgres import REPO_ROOT, airflow_connection_json

# Stand-in credentials for the local endpoint only; it accepts any, and real AWS rejects these.
LOCAL_AWS_KEY = "local-access-key"
LOCAL_AWS_SECRET = "local-secret-key"  # noqa: S105 - not a secret: the local endpoint ignores it


def aws_connection_json(endpoint_url: str, region: str = "us-east-1") -> str:
    return json.dumps(
        {
            "conn_type": "aws",
            "login": LOCAL_AWS_KEY,
            "password": LOCAL_AWS_SECRET,
            "extra": {"endpoint_url": endpoint_url, "region_name": region},
        }
    )


def configure(
    airflow_home: Path,
    *,
    db_url: str | None = None,
    aws_endpoint_url: str | None = None,
    metadata_db_url: str | None = None,
) -> None:
    """Set the environment Airflow reads; must run before ``airflow`` is imported.

    ``metadata_db_url`` (SQLAlchemy) holds Airflow's own tables unless AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
    is set already; without either, Airflow uses SQLite under ``airflow_home`` (as the tests do).
    """
    airflow_home.mkdir(parents=True, exist_ok=True)
    if metadata_db_url:
        os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", metadata_db_url)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
            "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
            "OPENBLAS_NUM_THREADS": "1",
        }
    )
    # Hooks' sessions parse botocore's service models once per process, not once per hook.
    os.environ.setdefault(
        "AIRFLOW__AWS__SESSION_FACTORY",
        "personalize_provider.hooks.session_factory.SharedLoaderSessionFactory",
    )
    for folder in (REPO_ROOT, REPO_ROOT / "plugins", REPO_ROOT / "dags"):
        if str(folder) not in sys.path:
            sys.path.append(str(folder))
    set_connections(db_url=db_url, aws_endpoint_url=aws_endpoint_url)


def set_connections(*, db_url: str | None, aws_endpoint_url: str | None) -> None:
    """Connections by environment (``AIRFLOW_CONN_*``), read by Airflow whenever a task asks."""
    if db_url:
        os.environ["AIRFLOW_CONN_STORE_DB"] = airflow_connection_json(db_url)
    if aws_endpoint_url:
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = aws_connection_json(aws_endpoint_url)


def migrate() -> None:
    """Create or upgrade Airflow's metadata database."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    create_pools()


def create_pools() -> None:
    """The pools that keep concurrent Personalize jobs within the service's quotas."""
    from personalize_pipeline.pools import create_pools as create

    create()
