"""
The UI command's local endpoint, started again whenever it exits until the command stops.

A crash or a kill of the endpoint otherwise left Airflow running against a dead port: every
deferred wait used up its allowed connection errors and failed its task. A new process on the same
port and state folder resumes the interrupted jobs under their ARNs and puts S3 back, so waits
carry on as they would against AWS, where the service keeps running. An endpoint that stopped
because it was asked to (exit 0 after SIGINT or SIGTERM, e.g. the terminal's Ctrl-C reaching it
while the UI command stops Airflow) stays stopped.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterator

from devenv.process_tree import STOP_SIGNALS

RESTART_DELAY_SECONDS = 2.0


@contextlib.contextmanager
def supervised_endpoint(data_dir: str | os.PathLike, *, step_seconds: float, port: int) -> Iterator[str]:
    """``local_aws.testing.running_endpoint``, its process restarted until the block ends; yields its URL."""
    from local_aws.testing import endpoint_process

    stopping = threading.Event()
    first_start: queue.Queue[str | BaseException] = queue.Queue()

    def keep_running() -> None:
        started = False
        while not stopping.is_set():
            try:
                with endpoint_process(data_dir, step_seconds=step_seconds, port=port) as (url, process):
                    if not started:
                        started = True
                        first_start.put(url)
                    while process.poll() is None and not stopping.wait(0.5):
                        pass
                    if stopping.is_set() or _asked_to_stop(process.returncode):
                        return
                    print(f"Local AWS endpoint exited ({process.returncode}); starting it again", flush=True)
            except Exception as error:  # noqa: BLE001 - a failed restart is retried; a failed first start is raised
                if not started:
                    first_start.put(error)
                    return
                print(f"Local AWS endpoint did not start again ({error}); retrying", flush=True)
            stopping.wait(RESTART_DELAY_SECONDS)

    supervisor = threading.Thread(target=keep_running, name="endpoint-supervisor", daemon=True)
    supervisor.start()
    url = first_start.get()
    if isinstance(url, BaseException):
        raise url
    try:
        yield url
    finally:
        stopping.set()
        supervisor.join()


def _asked_to_stop(returncode: int) -> bool:
    return returncode == 0 or -returncode in STOP_SIGNALS
