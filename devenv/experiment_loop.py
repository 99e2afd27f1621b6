"""
The demo's closed loop: the recommendation API serves the configured experiment, the simulator
plays the store's customers against it over the experiment's days, and the report DAG analyses the
last day in the run the scheduler would make for it (at the midnight after it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta

DRAIN_SECONDS = 60
SIMULATED_DAYS = 14  # for an experiment without an end
VISITS_PER_DAY = 100  # simulated customers visiting on a day, at most


def _exposures_logged(api: str) -> int:
    with urllib.request.urlopen(f"{api}/health", timeout=5) as response:
        exposures = json.load(response)["exposures"]
    return exposures["written"] + exposures["lost"]


def wait_for_exposures(api: str, served: int) -> None:
    """Until the API has written (or counted as lost) every exposure it served: it writes them in
    batches off the request path, and the report must see them all."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while _exposures_logged(api) < served:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the API logged {_exposures_logged(api)} of {served} exposures")
        time.sleep(0.2)


@contextlib.contextmanager
def serving_simulated_time(pipeline: str, database_url: str) -> Iterator[str]:
    """``python -m serving`` for the pipeline with the simulated clock on; yields its URL."""
    from serving.process import running_api

    with running_api(database_url, pipeline, env={"SERVING_SIMULATED_CLOCK": "1"}) as api:
        yield api


def forget_previous_run(database_url: str, schema: str, experiment: str) -> None:
    """A rerun of the demo replays the experiment on freshly loaded store data: the exposures and
    results of an earlier run would otherwise count twice."""
    import psycopg
    from psycopg import sql

    from personalize_pipeline.db import run_setup

    with psycopg.connect(database_url) as conn:
        run_setup(conn, "experiments/setup.sql", "experiments/results_setup.sql", schema=schema)
        with conn.transaction():
            for table in ("experiment_exposure_batches", "experiment_exposures_lost", "experiment_results"):
                delete = sql.SQL("DELETE FROM {} WHERE experiment = %s").format(sql.Identifier(schema, table))
                conn.execute(delete, (experiment,))


def run_experiment_loop(bag, cfg, database_url: str) -> str | None:
    """Simulate the first configured experiment's days, report its last day; the printed summary."""
    from devenv.simulator import VISIT_SHARE, Store, assigned_variant, simulate
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
    store = Store.read(database_url)
    # About 100 visits a day whatever the store's size (the demo size's 10 % of 1,000 customers):
    # enough for a verdict, and the store size's 180k customers do not make the demo crawl.
    share = min(VISIT_SHARE, VISITS_PER_DAY / max(len(store.customers), 1))
    with serving_simulated_time(cfg.name, database_url) as api:
        tally = asyncio.run(
            simulate(
                api,
                store,
                experiment.start,
                days,
                share=share,
                expected=lambda customer: assigned_variant(experiment.seed, customer, weights),
            )
        )
        wait_for_exposures(api, tally.exposed)
    print(
        f"  simulated {days} days of {name}: {tally.visits:,} visits, {tally.requests:,} requests, "
        f"events {dict(tally.events)}; variants {dict(tally.variants)}, {tally.misassigned} misassigned"
    )
    midnight = end.replace(hour=0, minute=0, second=0, microsecond=0)
    last_run = midnight if midnight == end else midnight + timedelta(days=1)
    run = run_report_scheduled(bag.get_dag(cfg.dag_id("experiment_report")), last_run)
    summaries = run.get_task_instance(EXPERIMENT_TASK).xcom_pull(task_ids=EXPERIMENT_TASK)
    print(f"  report of {report_day(last_run)} ({run.state}):")
    return experiment_message(summaries or [])


def run_report_scheduled(dag, logical_date):
    """The report's run at ``logical_date`` made as the scheduler makes it (devenv.scheduled_runs): a
    manual run there kept the unpaused DAG's catchup from ever getting past that date."""
    from devenv.scheduled_runs import interval_infos, run_scheduled

    (info,) = interval_infos(dag, logical_date, logical_date)
    return run_scheduled(dag, info)
