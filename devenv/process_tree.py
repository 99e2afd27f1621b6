"""
Run a command with children of its own (Airflow's components) and stop all of it on any signal.

Signalling only the parent orphans its components (scheduler, API server, triggerer, DAG
processor, workers) and leaves port 8080 held. So on SIGINT, SIGTERM or SIGHUP every descendant
gets SIGTERM, children first, then the parent; whatever still runs after ``grace`` seconds (the
scheduler can ignore SIGTERM for 20 s or more) is killed.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Sequence

import psutil

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _Stop(Exception):
    pass


def stop_tree(root: psutil.Process, grace: float) -> list[int]:
    """Terminate ``root`` and every descendant; returns the pids that had to be killed."""
    return stop_trees([root], grace)


def stop_trees(roots: Sequence[psutil.Process], grace: float) -> list[int]:
    """:func:`stop_tree` of several roots at once, so their grace periods overlap."""
    family: list[psutil.Process] = []
    for root in roots:
        with contextlib.suppress(psutil.NoSuchProcess):
            family += [*root.children(recursive=True), root]
    for process in family:  # descendants first: children before the parent
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(family, timeout=grace)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=5)
    return [p.pid for p in alive]


def run(command: Sequence[str], *, grace: float = 30.0) -> int:
    """Run ``command`` until it exits, or until this process is signalled: then stop its whole tree."""
    child = subprocess.Popen(command, start_new_session=True)  # Ctrl-C reaches only us, not it directly

    def on_signal(signum, frame):
        raise _Stop(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        return child.wait()
    except _Stop as stop:
        print(f"Stopping {command[0]} and its processes ({signal.Signals(stop.args[0]).name})...", flush=True)
        killed = stop_tree(psutil.Process(child.pid), grace)
        if killed:
            print(
                f"Killed {len(killed)} process(es) that ignored SIGTERM for {grace:.0f} s: {killed}",
                flush=True,
            )
        child.wait()
        return 128 + stop.args[0]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
