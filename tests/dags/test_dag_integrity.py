"""Every DAG file imports cleanly, quickly, and without touching a database or the network."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dag_bag):
    assert dag_bag.import_errors == {}
    assert dag_bag.dag_ids, "no DAGs found"


def test_every_dag_file_defines_a_dag(dag_bag):
    files_with_dags = {Path(dag.fileloc).name for dag in dag_bag.dags.values()}
    assert files_with_dags == {p.name for p in DAG_FILES}


def test_every_task_retries_with_backoff(dag_bag):
    for dag in dag_bag.dags.values():
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag.dag_id}.{task.task_id} has no retries"
            assert task.retry_exponential_backoff, f"{dag.dag_id}.{task.task_id} retries without backoff"


def test_aws_waits_are_deferrable(dag_bag):
    from personalize_provider.operators.personalize import PersonalizeBaseOperator

    waits = [t for d in dag_bag.dags.values() for t in d.tasks if isinstance(t, PersonalizeBaseOperator)]
    assert waits
    for task in waits:
        assert task.deferrable or not task.wait_for_completion, task.task_id


@pytest.fixture
def listener():
    """Loopback listeners: ``listen()`` gives ``(address, reached)``; ``reached()``: did anyone connect."""
    servers: list[socket.socket] = []

    def listen() -> tuple[tuple[str, int], Callable[[], bool]]:
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)
        return server.getsockname(), lambda: bool(select.select([server], [], [], 0)[0])

    yield listen
    for server in servers:
        server.close()


# Parse in a fresh interpreter whose every socket connect is refused and recorded, even if swallowed.
PARSE = """
import json, runpy, time
from loopback_guard import loopback_only
with loopback_only(allowed=lambda family, address: False) as attempts:
    import airflow.sdk
    started = time.perf_counter()
    runpy.run_path({path!r})
    seconds = time.perf_counter() - started
print(json.dumps({{"seconds": seconds, "connects": [repr(a) for a in attempts]}}))
"""


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_parses_fast_without_side_effects(path, tmp_path, listener):
    """Nothing may be reached at import: the connections point at listeners that must see no one, and
    the interpreter records any connect (libpq's, in C, would reach the listener instead)."""
    (db_host, db_port), db_reached = listener()
    (aws_host, aws_port), aws_reached = listener()
    env = {
        "PYTHONPATH": f"{DAGS.parent}:{DAGS.parent / 'plugins'}:{DAGS}:{Path(__file__).parents[1]}",
        "AIRFLOW_HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "AWS_EC2_METADATA_DISABLED": "true",
        "PGCONNECT_TIMEOUT": "2",  # the listener never answers: a connect would otherwise wait forever
        "AIRFLOW_CONN_STORE_DB": f"postgres://nobody@{db_host}:{db_port}/none",
        "AIRFLOW_CONN_AWS_DEFAULT": f"aws://x:y@?endpoint_url=http%3A%2F%2F{aws_host}%3A{aws_port}",
    }
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", PARSE.format(path=str(path))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    parsed = json.loads(result.stdout.strip().splitlines()[-1])
    assert parsed["connects"] == [], f"{path.name} connected at parse time: {parsed['connects']}"
    assert not db_reached() and not aws_reached(), f"{path.name} reached a connection at parse time"
    # Generous bound against accidental heavy work at import; the real figure is in the note.
    assert parsed["seconds"] < 5, (
        f"{path.name} took {parsed['seconds']:.2f}s to parse (total {time.perf_counter() - started:.1f}s)"
    )


def test_every_pipeline_file_has_its_dag_file_and_back():
    """A pipeline's configuration without a DAG file would silently build nothing."""
    from personalize_pipeline.config import DEFAULT_DIR

    configured = {p.stem for p in DEFAULT_DIR.glob("*.yaml")}
    assert configured, "no pipeline configured"
    assert configured == {p.stem for p in DAG_FILES}
