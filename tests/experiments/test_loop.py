"""
The closed loop through the real API, once serving/ is in the tree (skipped before): simulated days
against ``python -m serving``, then the report DAG on what the API logged. The simulator is
deterministic: the same seed replays the same requests and events, and the events' ids make the
replay add nothing to the store.
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from datetime import UTC, datetime

import psycopg
import pytest
import yaml

pytest.importorskip("serving.process")

SCHEMA = "experiment_loop_tests"
START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS, SEED, SHARE = 3, 7, 0.3
VARIANTS = [("popular", 50.0), ("trending", 50.0)]
EXPERIMENT = {
    "seed": "loop-tests",
    "start": "2026-11-01T00:00:00Z",
    "end": "2026-11-04T00:00:00Z",
    "variants": [{"name": name, "weight": weight, "source": {"fallback": name}} for name, weight in VARIANTS],
    "guardrails": {"clicks": {"event_type": "view", "attributed": True}},
    "minimum_users_per_variant": 5,
}
SIMULATED_EVENTS = """
SELECT (SELECT count(*) FROM store.events WHERE client_event_id LIKE %(prefix)s)
     + (SELECT count(*) FROM store.orders WHERE client_event_id LIKE %(prefix)s)
"""


@pytest.fixture(scope="module")
def served(database_url, airflow_db, pipelines_dir, tmp_path_factory):
    """Tiny store data, its popular and trending lists loaded, the API running with the simulated clock."""
    from devenv import datagen
    from devenv.airflow_env import set_connections
    from devenv.experiment_loop import serving_simulated_time
    from devenv.postgres import apply_schema
    from personalize_pipeline.cache import load_fallback
    from personalize_pipeline.config import DEFAULT_PATH
    from personalize_pipeline.pipelines import load_pipeline

    set_connections(db_url=database_url, aws_endpoint_url=None)
    apply_schema(database_url)
    datagen.load(database_url, datagen.generate("tiny"))
    raw = copy.deepcopy(yaml.safe_load(DEFAULT_PATH.read_text()))
    raw.update(cache_schema=SCHEMA, experiments={"loop": EXPERIMENT})
    with pipelines_dir({"personalize": raw}, tmp_path_factory.mktemp("loop-pipelines")):
        cfg = load_pipeline("personalize")
        for kind, _ in VARIANTS:
            fallback = getattr(cfg.fallbacks, kind)
            load_fallback(
                source_conn_id=cfg.connections.source_db,
                cache_conn_id=cfg.connections.cache_db,
                schema=SCHEMA,
                cache_name=fallback.cache_table,
                kind=kind,
                days=fallback.days,
                size=fallback.size,
                as_of=START,
                lineage={"dag_id": "experiment-loop-tests"},
            )
        with serving_simulated_time("personalize", database_url) as api:
            yield api, database_url


def _play(api: str, store):
    from devenv.simulator import assigned_variant, simulate

    return asyncio.run(
        simulate(
            api,
            store,
            START,
            DAYS,
            seed=SEED,
            share=SHARE,
            expected=lambda customer: assigned_variant(EXPERIMENT["seed"], customer, VARIANTS),
        )
    )


def _simulated_events(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(SIMULATED_EVENTS, {"prefix": f"sim-{SEED}-%"}).fetchone()[0]


@pytest.fixture(scope="module")
def played(served):
    from devenv.experiment_loop import wait_for_exposures
    from devenv.simulator import Store

    api, url = served
    store = Store.read(url)  # read once: the first play's events add to the customers' history
    first = _play(api, store)
    stored = _simulated_events(url)
    replay = _play(api, store)
    wait_for_exposures(api, first.exposed + replay.exposed)
    return first, stored, replay, store


def test_the_same_seed_replays_the_same_traffic_and_adds_no_event(served, played):
    first, stored, replay, _ = played
    assert first.visits > 0 and sum(first.events.values()) > 0
    assert first == replay
    assert first.misassigned == 0  # the API assigns as the README's published algorithm says
    assert stored == sum(first.events.values()) == _simulated_events(served[1])


def test_the_report_counts_what_the_api_logged(served, played):
    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT
    from devenv.simulator import assigned_variant, visitors
    from personalize_pipeline.notifications import EXPERIMENT_TASK

    first, _, replay, store = played
    customers = {c for day in range(DAYS) for c, _ in visitors(SEED, day, store.customers, SHARE)}
    expected_users = Counter(assigned_variant(EXPERIMENT["seed"], c, VARIANTS) for c in customers)
    dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).get_dag("personalize_experiment_report")
    run = dag.test(logical_date=datetime(2026, 11, 4, tzinfo=UTC))
    (summary,) = run.get_task_instance(EXPERIMENT_TASK).xcom_pull(task_ids=EXPERIMENT_TASK)
    variants = {v["variant"]: v for v in summary["metrics"]["primary"]["variants"]}
    assert {name: v["users"] for name, v in variants.items()} == dict(expected_users)
    assert sum(v["exposures"] for v in variants.values()) == first.exposed + replay.exposed
    assert summary["horizon_reached"] and summary["metrics"]["primary"]["srm_p"] > 0.001
