"""
``python -m devenv.airflow_services``: Airflow's four components, listening on loopback only.

What ``airflow standalone`` runs (api-server, scheduler, dag-processor, triggerer), started here
because standalone offers no way to bind the log servers: the scheduler and the triggerer each
start one on every interface (``serve_logs`` binds host "", ports 8793 and 8794, with no setting).
Here they run with ``--skip-serve-logs``: on one machine the API server reads task logs from the
shared log folder. The API server binds ``[api] host`` (default here 127.0.0.1) and ``[api] port``.

When any component exits, the others are stopped, so the UI command never keeps half of Airflow.
The API server starts first and the others once it answers: workers report to its execution API,
and a task the scheduler queued before it answered (a trigger that fired at start-up, after a
restart) had its worker killed after four refused calls and went up for retry.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import psutil

from devenv.process_tree import stop_trees

GRACE_SECONDS = 30.0
API_READY_SECONDS = 600.0


AIRFLOW = [sys.executable, "-m", "airflow"]
TRIGGERER = [*AIRFLOW, "triggerer", "--skip-serve-logs"]  # also beside the demo's dag.test()


def commands(host: str, port: int) -> dict[str, list[str]]:
    return {
        "api-server": [*AIRFLOW, "api-server", "--host", host, "--port", str(port)],
        "scheduler": [*AIRFLOW, "scheduler", "--skip-serve-logs"],
        "dag-processor": [*AIRFLOW, "dag-processor"],
        "triggerer": TRIGGERER,
    }


def main() -> int:
    os.environ.setdefault("AIRFLOW__API__HOST", "127.0.0.1")
    host = os.environ["AIRFLOW__API__HOST"]
    port = int(os.environ.get("AIRFLOW__API__PORT", "8080"))
    # Workers reach the API server at the address it binds, not at "localhost" (which may be ::1).
    os.environ.setdefault("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"http://{host}:{port}/execution/")
    children: dict[str, subprocess.Popen] = {}
    try:
        for name, command in commands(host, port).items():
            children[name] = subprocess.Popen(command)
            if name == "api-server" and not wait_until_answering(children[name], host, port):
                print("The Airflow API server exited or did not answer; stopping", flush=True)
                return 1
        while True:
            exited = {name: child.returncode for name, child in children.items() if child.poll() is not None}
            if exited:
                print(f"Airflow component(s) exited: {exited}; stopping the others", flush=True)
                return 1
            time.sleep(0.5)
    finally:
        running = [psutil.Process(c.pid) for c in children.values() if c.poll() is None]
        stop_trees(running, GRACE_SECONDS)


def wait_until_answering(api_server: subprocess.Popen, host: str, port: int) -> bool:
    """Whether the API server answers its health check before it exits or API_READY_SECONDS pass."""
    deadline = time.monotonic() + API_READY_SECONDS
    while api_server.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/api/v2/monitor/health", timeout=5):
                return True
        except OSError:
            time.sleep(1)
    return False


if __name__ == "__main__":
    sys.exit(main())
