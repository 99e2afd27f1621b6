"""
The demo's closed loop: the recommendation API serves the configured experiment, the simulator
plays the store's customers against it over the experiment's days, and the report DAG analyses the
last day as its scheduled run would (``dag.test`` at the midnight after it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta

STARTUP_SECONDS = 60
SIMULATED_DAYS = 14  # for an experiment without an end


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _health(api: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
            return json.load(response)
    except OSError:
        return None


@contextlib.contextmanager
def running_api(pipeline: str, database_url: str) -> Iterator[str]:
    """``python -m serving`` on a free loopback port with the simulated clock on; yields its URL.
    On the way out it waits for the exposure buffer to drain, then stops the process."""
    port = _free_port()
    api = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "serving", "--pipeline", pipeline, "--port", str(port)]
    env = {**os.environ, "SERVING_SIMULATED_CLOCK": "1", "SERVING_DATABASE_URL": database_url}
    process = subprocess.Popen(command, env=env)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while _health(api) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the recommendation API did not start: {' '.join(command)}")
            time.sleep(0.2)
        yield api
        deadline = time.monotonic() + STARTUP_SECONDS
        while (_health(api) or {}).get("exposures", {}).get("buffered", 0) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        import psutil

        from devenv.process_tree import stop_tree

        stop_tree(psutil.Process(process.pid), grace=20)
        process.wait()


def forget_previous_run(database_url: str, schema: str, experiment: str) -> None:
    """A rerun of the demo replays the experiment on freshly loaded store data: the exposures and
    results of an earlier run would otherwise count twice."""
    import psycopg
    from psycopg import sql

    from personalize_pipeline.sql_files import compose

    with psycopg.connect(database_url) as conn:
        conn.execute(compose("experiments/setup.sql", schema=schema))
        conn.execute(compose("experiments/results_setup.sql", schema=schema))
        for table in ("experiment_exposures", "experiment_exposures_lost", "experiment_results"):
            delete = sql.SQL("DELETE FROM {} WHERE experiment = %s").format(sql.Identifier(schema, table))
            conn.execute(delete, (experiment,))


def run_experiment_loop(bag, cfg, database_url: str) -> str | None:
    """Simulate the first configured experiment's days, report its last day; the printed summary."""
    from devenv.simulator import Store, assigned_variant, simulate
    from personalize_pipeline.experiments.report import report_day
    from personalize_pipeline.experiments.summary import experiment_message
    from personalize_pipeline.notifications import EXPERIMENT_TASK

    if not cfg.experiments:
        return None
    name, experiment = next(iter(cfg.experiments.items()))
    end = experiment.end or experiment.start + timedelta(days=SIMULATED_DAYS)
    days = -(-(end - experiment.start) // timedelta(days=1))
    weights = [(v.name, v.weight) for v in experiment.variants]
    forget_previous_run(database_url, cfg.cache_schema, name)
    with running_api(cfg.name, database_url) as api:
        tally = asyncio.run(
            simulate(
                api,
                Store.read(database_url),
                experiment.start,
                days,
                expected=lambda customer: assigned_variant(experiment.seed, customer, weights),
            )
        )
    print(
        f"  simulated {days} days of {name}: {tally.visits:,} visits, {tally.requests:,} requests, "
        f"events {dict(tally.events)}; variants {dict(tally.variants)}, {tally.misassigned} misassigned"
    )
    midnight = end.replace(hour=0, minute=0, second=0, microsecond=0)
    last_run = midnight if midnight == end else midnight + timedelta(days=1)
    run = bag.get_dag(cfg.dag_id("experiment_report")).test(logical_date=last_run)
    summaries = run.get_task_instance(EXPERIMENT_TASK).xcom_pull(task_ids=EXPERIMENT_TASK)
    print(f"  report of {report_day(last_run)} ({run.state}):")
    return experiment_message(summaries or [])
