"""Helpers for tests: start a real endpoint in a subprocess, make structured test data.

``running_endpoint`` is what other test suites reuse:

    with running_endpoint(tmp_path) as url:
        boto3.client("personalize", endpoint_url=url, **DUMMY_CREDENTIALS)
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

DUMMY_CREDENTIALS = {
    "region_name": "us-east-1",
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
}
READY_PREFIX = "local_aws ready on "
MANY_DATASET_GROUPS = {"LOCAL_PERSONALIZE_QUOTA_DATASET_GROUPS": "1000"}
"""``env`` for an endpoint a whole test session shares: each test module makes its own dataset
groups, far beyond the account default of 5 (an adjustable quota, raised as AWS would)."""
TERMINAL_STATUSES = {"ACTIVE", "CREATE FAILED", "CREATE STOPPED"}


@contextlib.contextmanager
def running_endpoint(data_dir: str | os.PathLike, **options: Any) -> Iterator[str]:
    """Run ``python -m local_aws`` until the block ends; yields its URL. Options: ``endpoint_process``."""
    with endpoint_process(data_dir, **options) as (url, _):
        yield url


@contextlib.contextmanager
def endpoint_process(
    data_dir: str | os.PathLike,
    step_seconds: float = 0.1,
    port: int = 0,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run ``python -m local_aws`` until the block ends; yields its URL and the process (to kill it)."""
    child_env = {**os.environ, "LOCAL_PERSONALIZE_STEP_SECONDS": str(step_seconds), **(env or {})}
    repo_root = str(Path(__file__).resolve().parent.parent)
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [repo_root, child_env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local_aws",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        env=child_env,
        cwd=repo_root,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:  # keep draining stdout so the child never blocks on a full pipe
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        url = _wait_ready(lines, timeout)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(lines: queue.Queue, timeout: float) -> str:
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty as exc:
            raise RuntimeError(f"local_aws did not report ready within {timeout}s") from exc
        if line is None:
            raise RuntimeError("local_aws exited before it was ready")
        if line.startswith(READY_PREFIX):
            return line[len(READY_PREFIX) :].strip()


SYNTHETIC_INTERACTIONS_SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
    ],
    "version": "1.0",
}
"""The Avro schema of :func:`synthetic_interactions_csv`'s columns."""


def synthetic_interactions_csv(
    n_users: int = 100,
    n_items: int = 120,
    per_user: int = 15,
    n_clusters: int = 4,
    in_cluster: float = 0.85,
    seed: int = 7,
) -> str:
    """Interactions CSV with taste clusters, so a collaborative model beats popularity.

    User u belongs to cluster u % n_clusters and mostly picks distinct items of
    that cluster (item i is in cluster i % n_clusters), with a popularity skew
    inside each cluster; 10% of events are purchases with an EVENT_VALUE.
    """
    rng = np.random.default_rng(seed)
    items = np.arange(n_items)
    rows = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"]
    for u in range(n_users):
        own = items[items % n_clusters == u % n_clusters]
        skew = 1.0 / np.arange(1, len(own) + 1) ** 0.5
        n_own = min(len(own), int(round(per_user * in_cluster)))
        picks = list(rng.choice(own, size=n_own, replace=False, p=skew / skew.sum()))
        others = np.setdiff1d(items, picks)
        picks += list(rng.choice(others, size=per_user - n_own, replace=False))
        rng.shuffle(picks)
        t = 1_700_000_000 + int(rng.integers(0, 86_400))
        for i in picks:
            t += int(rng.integers(60, 3_600))
            if rng.random() < 0.1:
                rows.append(f"u{u},i{i},{t},purchase,{rng.integers(1, 5)}.0")
            else:
                rows.append(f"u{u},i{i},{t},click,")
    return "\n".join(rows) + "\n"


def wait_for(describe, timeout: float = 60.0, interval: float = 0.02) -> tuple[dict, list[str]]:
    """Poll ``describe()`` (returning the resource dict) until a terminal status.

    Returns the final record and the distinct statuses seen, in order.
    """
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        record = describe()
        if not seen or seen[-1] != record["status"]:
            seen.append(record["status"])
        if record["status"] in TERMINAL_STATUSES:
            return record, seen
        if time.monotonic() > deadline:
            raise AssertionError(f"still {record['status']} after {timeout}s: {record}")
        time.sleep(interval)
