"""The UI command's endpoint comes back on its port after a kill, with its S3; a requested stop is final."""

from __future__ import annotations

import socket
import time

import boto3
import psutil

from devenv.endpoint_supervisor import RESTART_DELAY_SECONDS, supervised_endpoint
from local_aws.testing import DUMMY_CREDENTIALS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _endpoints() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "local_aws" in p.cmdline()]


def _answering(s3, timeout: float = 90) -> psutil.Process:
    """The endpoint process once it answers again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            s3.list_buckets()
            (process,) = _endpoints()
            return process
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_a_killed_endpoint_starts_again_and_a_stopped_one_stays_stopped(tmp_path):
    port = _free_port()
    with supervised_endpoint(tmp_path, step_seconds=0.1, port=port) as url:
        assert url == f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=url, **DUMMY_CREDENTIALS)
        s3.create_bucket(Bucket="kept")
        s3.put_object(Bucket="kept", Key="a/b.csv", Body=b"x,y\n")
        (first,) = _endpoints()

        first.kill()
        second = _answering(s3)
        assert second.pid != first.pid
        assert s3.get_object(Bucket="kept", Key="a/b.csv")["Body"].read() == b"x,y\n"

        second.terminate()  # exits 0, as on the terminal's Ctrl-C: not restarted
        second.wait(10)
        time.sleep(RESTART_DELAY_SECONDS + 5)
        assert _endpoints() == []
    assert _endpoints() == []
