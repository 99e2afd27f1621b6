"""
Airflow as it runs in production, on this machine: its metadata in PostgreSQL, the API server,
a scheduler with the LocalExecutor, the DAG processor and a triggerer, each a process of its own
(devenv.airflow_services' commands), so that one of them can be SIGKILLed and started again.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import psycopg
from fault_harness import REPO_ROOT, _free_port, wait_until

from devenv.airflow_env import aws_connection_json
from devenv.airflow_services import commands
from devenv.postgres import airflow_database_url
from devenv.process_tree import stop_trees

GRACE_SECONDS = 20.0


class AirflowCluster:
    """Airflow's four components over ``dags``, with ``aws_default`` at ``aws_endpoint_url``."""

    def __init__(self, home: Path, dags: Path, server_url: str, aws_endpoint_url: str) -> None:
        self.port = _free_port()
        database = f"airflow_faults_{secrets.token_hex(4)}"
        self.metadata = airflow_database_url(server_url, database)
        self.metadata_libpq = psycopg.conninfo.make_conninfo(server_url, dbname=database)
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(
                [
                    {
                        "name": "dags-folder",
                        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                        "kwargs": {"path": str(dags)},
                    }
                ]
            ),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            # A triggerer silent this long is dead: its triggers go to another one.
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW_CONN_AWS_DEFAULT": aws_connection_json(aws_endpoint_url),
            "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / p) for p in ("", "plugins", "tests/dag_fixtures")),
        }
        self.home = home
        self.processes: dict[str, subprocess.Popen] = {}

    def _airflow(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
        return result.stdout

    def start(self) -> None:
        self._airflow("db", "migrate")
        for name in commands("127.0.0.1", self.port):
            self.start_component(name)

    def start_component(self, name: str) -> None:
        log = (self.home / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            commands("127.0.0.1", self.port)[name],
            env=self.env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, name: str) -> None:
        """SIGKILL the component's main process only, as the OOM killer would."""
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def trigger(self, dag_id: str, conf: dict, timeout: float = 180) -> None:
        """Trigger once the DAG processor has stored the DAG."""
        wait_until(lambda: self.query("SELECT 1 FROM serialized_dag WHERE dag_id = %s", dag_id), timeout)
        self._airflow("dags", "trigger", dag_id, "--conf", json.dumps(conf))

    def query(self, statement: str, *params) -> list[tuple]:
        with psycopg.connect(self.metadata_libpq, connect_timeout=5) as conn:
            return conn.execute(statement, params).fetchall()

    def stop(self) -> None:
        running = [psutil.Process(p.pid) for p in self.processes.values() if p.poll() is None]
        stop_trees(running, GRACE_SECONDS)
        for process in self.processes.values():
            process.wait(timeout=10)

    def port_free(self) -> bool:
        return not any(
            c.laddr and c.laddr.port == self.port and c.status == psutil.CONN_LISTEN
            for c in psutil.net_connections("tcp")
        )

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def wait_for_run(self, dag_id: str, timeout: float) -> str:
        """The run's final state."""
        return wait_until(
            lambda: next(
                (
                    state
                    for (state,) in self.query("SELECT state FROM dag_run WHERE dag_id = %s", dag_id)
                    if state in ("success", "failed")
                ),
                None,
            ),
            timeout,
            interval=1,
        )
