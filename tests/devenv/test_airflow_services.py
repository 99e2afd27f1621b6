"""The UI command's Airflow listens on loopback only, keeps its metadata in PostgreSQL, and stops whole."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from devenv.postgres import airflow_database_url
from devenv.process_tree import stop_tree

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ("scheduler", "triggerer", "dag_processor")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as r:
            return json.load(r)
    except OSError:
        return None


def _listening(root: psutil.Process) -> set[tuple[str, int]]:
    found = set()
    for process in [root, *root.children(recursive=True)]:
        try:
            connections = process.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        found |= {(c.laddr.ip, c.laddr.port) for c in connections if c.status == psutil.CONN_LISTEN}
    return found


@pytest.fixture(scope="module")
def airflow_env(database_url, tmp_path_factory):
    """Environment of a fresh Airflow home whose metadata database is in PostgreSQL."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins"), str(ROOT / "dags")]),
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow-home")),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_database_url(database_url, "airflow_services_test"),
        "AIRFLOW__API__PORT": str(_free_port()),
    }
    migrated = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    return env


def test_every_socket_is_on_loopback_and_stop_leaves_nothing(airflow_env):
    port = int(airflow_env["AIRFLOW__API__PORT"])
    services = subprocess.Popen([sys.executable, "-m", "devenv.airflow_services"], cwd=ROOT, env=airflow_env)
    root = psutil.Process(services.pid)
    try:
        deadline = time.monotonic() + 240
        health = None
        while time.monotonic() < deadline and services.poll() is None:
            health = _health(port)
            if health and all(health.get(c, {}).get("status") == "healthy" for c in COMPONENTS):
                break
            time.sleep(2)
        assert services.poll() is None, "a component exited"
        assert health and all(health[c]["status"] == "healthy" for c in COMPONENTS), health
        time.sleep(5)  # log servers, had they been started, are up by now
        listening = _listening(root)
        assert ("127.0.0.1", port) in listening
        assert {ip for ip, _ in listening} == {"127.0.0.1"}, listening
    finally:
        tree = [root, *root.children(recursive=True)]
        stop_tree(root, grace=30)
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert alive == []


SLOW_API_SERVER = """
import http.server, sys, time
class Healthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
time.sleep(3)  # as the real one: seconds of imports before it listens
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Healthy).serve_forever()
"""
API_ANSWERS = """
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=5)
    print("answered", file=open(sys.argv[2], "a"))
except OSError as error:
    print(f"refused: {error}", file=open(sys.argv[2], "a"))
"""


def test_the_other_components_start_once_the_api_server_answers(monkeypatch, tmp_path):
    """Workers the scheduler starts report to the API server: none may start before it answers."""
    from devenv import airflow_services

    port, seen = _free_port(), tmp_path / "seen"
    probe = [sys.executable, "-c", API_ANSWERS, str(port), str(seen)]
    fake = {
        "api-server": [sys.executable, "-c", SLOW_API_SERVER, str(port)],
        "scheduler": probe,
        "triggerer": probe,
    }
    monkeypatch.setattr(airflow_services, "commands", lambda host, port: fake)
    monkeypatch.setenv("AIRFLOW__API__PORT", str(port))
    assert airflow_services.main() == 1  # the probes exit, which stops the rest
    assert seen.read_text().splitlines() == ["answered", "answered"]
