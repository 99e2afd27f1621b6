"""
The fault suite's tools: a local endpoint that can be SIGKILLed and started again on the same
state and port, S3 contents put back after a restart, a background fault injector, polling.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from devenv.airflow_env import LOCAL_AWS_KEY, LOCAL_AWS_SECRET

REPO_ROOT = Path(__file__).resolve().parents[2]
GROUP = "faults"
SOLUTION = "user-personalization"
SCHEMA = "faults_cache"
BUCKET = "personalize-pipelines-faults"
# Steps of a second: every job stays CREATE PENDING and then CREATE IN_PROGRESS for at least that
# long, so a watcher polling several times a second sees it in flight and can strike.
STEP_SECONDS = 1.0
EXPORTED_AT = datetime(2026, 10, 1, tzinfo=UTC)  # the export interval's end: the first retrain's date


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalEndpoint:
    """``python -m local_aws`` in a child process, killed and started again on the same port and state."""

    def __init__(self, data_dir: Path, step_seconds: float = STEP_SECONDS) -> None:
        self.data_dir, self.step_seconds = data_dir, step_seconds
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> None:
        env = {
            **os.environ,
            "LOCAL_PERSONALIZE_STEP_SECONDS": str(self.step_seconds),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        }
        command = [sys.executable, "-m", "local_aws", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [*command, "--data-dir", str(self.data_dir)],
            stdout=subprocess.DEVNULL,
            env=env,
            cwd=REPO_ROOT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"local_aws exited with {self.proc.returncode} while starting")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"local_aws did not listen on {self.port} within {timeout}s")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a host dies."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def client(self, service: str, **config):
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=LOCAL_AWS_KEY,
            aws_secret_access_key=LOCAL_AWS_SECRET,
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10, **config),
        )


def s3_objects(endpoint: LocalEndpoint) -> dict[str, bytes]:
    s3 = endpoint.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    return {key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys}


def restore_s3(endpoint: LocalEndpoint, objects: dict[str, bytes]) -> None:
    """Put back what the endpoint's in-memory S3 lost when it was killed (issue 13, item 2)."""
    s3 = endpoint.client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    for key, body in objects.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def restart(
    endpoint: LocalEndpoint, objects: dict[str, bytes] | None = None, down_seconds: float = 1.0
) -> None:
    """Kill the endpoint, leave it down a moment, start it on the same state; S3 as before the kill."""
    endpoint.kill()
    time.sleep(down_seconds)
    endpoint.start()
    if objects is not None:
        restore_s3(endpoint, objects)


def dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag(dag_id)


def states(run) -> dict[str, str]:
    return {
        ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): str(ti.state)
        for ti in run.get_task_instances()
    }


class Watcher(threading.Thread):
    """Runs ``strike`` in the background (the DAG run keeps the main thread); re-raises its error on join."""

    def __init__(self, strike: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.strike, self.error = strike, None

    def run(self) -> None:
        try:
            self.strike()
        except BaseException as error:  # noqa: BLE001 - handed to the test on join
            self.error = error

    def join_and_check(self, timeout: float = 30.0) -> None:
        self.join(timeout)
        assert not self.is_alive(), "the fault injector did not finish"
        if self.error is not None:
            raise self.error


def wait_until(check: Callable[[], object], timeout: float, interval: float = 0.25):
    """Poll ``check`` (connection errors count as 'not yet') until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except Exception:  # noqa: BLE001 - the endpoint may be restarting
            found = None
        if found:
            return found
        time.sleep(interval)
    raise TimeoutError(f"nothing seen within {timeout}s")


class FaultyS3Proxy:
    """
    An HTTP proxy on 127.0.0.1 in front of the endpoint that answers the next ``faults`` S3
    requests itself with 503 SlowDown or 500 InternalError, alternately, and passes the rest (and
    every Personalize request, which carries X-Amz-Target) through unchanged.
    """

    def __init__(self, target: LocalEndpoint, faults: int) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.target, self.left, self.served = target, faults, 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if "X-Amz-Target" not in self.headers and proxy._take_fault():
                    code, status = ("SlowDown", 503) if proxy.served % 2 else ("InternalError", 500)
                    reply = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(reply)
                    return
                import http.client

                upstream = http.client.HTTPConnection("127.0.0.1", proxy.target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in {"transfer-encoding", "connection", "content-length"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _take_fault(self) -> bool:
        with self._lock:
            if self.left <= 0:
                return False
            self.left -= 1
            self.served += 1
            return True

    def __enter__(self) -> FaultyS3Proxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
