"""Stopping the UI command stops every process under it, including one that ignores SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
# A parent with three children, one of which ignores SIGTERM (as Airflow's scheduler may).
TREE = (
    "import subprocess, sys, time\n"
    "stubborn = 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)'\n"
    "kids = [subprocess.Popen([sys.executable, '-c', c]) for c in "
    "('import time; time.sleep(300)', 'import time; time.sleep(300)', stubborn)]\n"
    "time.sleep(300)\n"
)
RUNNER = (
    "import sys; from devenv import process_tree; "
    "sys.exit(process_tree.run([sys.executable, '-c', sys.argv[1]], grace=2))"
)


def _descendants(pid: int, count: int, timeout: float = 30) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = psutil.Process(pid).children(recursive=True)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"only {len(found)} of {count} processes started")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_any_stop_signal_leaves_no_process_behind(stop):
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, TREE], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    tree = _descendants(runner.pid, 4)  # the command and its three children
    runner.send_signal(stop)
    assert runner.wait(timeout=30) == 128 + stop
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert alive == []
