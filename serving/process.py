"""The API in a child process on 127.0.0.1, for the benchmark, tests and simulations."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from serving.settings import DATABASE_URL_ENV

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_api(
    database_url: str, pipeline: str, env: dict[str, str] | None = None, start_timeout: float = 60
) -> Iterator[str]:
    """``python -m serving`` until the block ends; yields its base URL once it accepts connections."""
    port = free_port()
    command = [sys.executable, "-m", "serving", "--pipeline", pipeline, "--port", str(port)]
    child_env = {**os.environ, DATABASE_URL_ENV: database_url, **(env or {})}
    server = subprocess.Popen(command, cwd=ROOT, env=child_env)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the API did not start: {' '.join(command)}") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
