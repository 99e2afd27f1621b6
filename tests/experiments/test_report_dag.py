"""
The experiment report DAG through dag.test() on crafted exposures and store rows in a real PostgreSQL:
counts by hand (conversions only after the first exposure and within the window; attributed
events only with a recommendation the user was shown), interim then final verdicts, a rerun that
replaces its day, a day with no experiment skipped, a crafted sample-ratio mismatch, users shown
two variants counted once (in the variant of their first exposure) as crossovers, an A/A split by
the published assignment that finds no difference and no SRM, and the store in another database
than the exposures.
"""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime

import numpy as np
import psycopg
import pytest
import yaml
from statsmodels.stats.proportion import proportions_ztest

from devenv.simulator import assigned_variant
from personalize_pipeline.sql_files import compose

SCHEMA = "experiment_report_tests"
SPLIT_SCHEMA = "experiment_report_split"  # the exposures of the test whose store is another database
STORE_DATABASE = "experiment_report_store"
POPULAR = {"fallback": "popular"}
PERSONALIZED = {"solution": "user-personalization"}
AA_SEED = "aa-2027"


def _experiment(start: str, end: str, control: dict, treatment: dict, minimum: int, **extra) -> dict:
    return {
        "seed": f"seed-{start}",
        "start": start,
        "end": end,
        "variants": [
            {"name": "control", "weight": 50, "source": control},
            {"name": "treatment", "weight": 50, "source": treatment},
        ],
        "minimum_users_per_variant": minimum,
        **extra,
    }


EXPERIMENTS = {
    "crafted": _experiment(
        "2026-11-01T00:00:00Z",
        "2026-11-04T00:00:00Z",
        POPULAR,
        PERSONALIZED,
        100,
        guardrails={"clicks": {"event_type": "view", "attributed": True}},
    ),
    "crossing": _experiment(
        "2026-11-10T00:00:00Z",
        "2026-11-11T00:00:00Z",
        POPULAR,
        PERSONALIZED,
        100,
        guardrails={"clicks": {"event_type": "view", "attributed": True}},
    ),
    "lopsided": _experiment("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z", POPULAR, PERSONALIZED, 100),
    "aa": _experiment("2027-01-01T00:00:00Z", "2027-01-02T00:00:00Z", POPULAR, POPULAR, 100)
    | {"seed": AA_SEED},
}


def at(day: int, hour: int, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


class Store:
    """Rows for the report to read: customers, exposures, orders and events."""

    def __init__(self):
        self.customers, self.exposures, self.orders, self.events = set(), [], [], []

    def expose(self, experiment: str, variant: str, user: str, moment: datetime) -> str:
        recommendation = f"r-{user}-{len(self.exposures)}"
        self.customers.add(user)
        self.exposures.append((experiment, variant, user, recommendation, "popular", moment))
        return recommendation

    def buy(self, user: str, moment: datetime) -> None:
        self.customers.add(user)
        self.orders.append((f"exp-o{len(self.orders)}", user, moment))

    def view(self, user: str, moment: datetime, recommendation: str | None) -> None:
        self.customers.add(user)
        self.events.append((9_000_000_000 + len(self.events), user, "exp-p1", "view", moment, recommendation))

    def write(self, url: str) -> None:
        self.write_exposures(url, SCHEMA)
        self.write_store(url)

    def write_exposures(self, url: str, schema: str) -> None:
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            conn.execute(compose("experiments/setup.sql", schema=schema))
            conn.execute(f"TRUNCATE {schema}.experiment_exposure_batches")
            cur.executemany(  # a batch per exposure, as a flush of one request's would be
                f"INSERT INTO {schema}.experiment_exposure_batches "
                "(experiment, variant, source, first_at, last_at, user_ids, recommendation_ids, exposed_us) "
                "SELECT e, v, s, t, t, json_build_array(u), json_build_array(r),"
                " json_build_array((extract(epoch FROM t) * 1000000)::bigint)"
                " FROM (VALUES (%s, %s, %s, %s, %s, %s::timestamptz)) AS x (e, v, u, r, s, t)",
                self.exposures,
            )

    def write_store(self, url: str) -> None:
        with psycopg.connect(url) as conn:
            conn.execute("DELETE FROM store.order_items WHERE order_id LIKE 'exp-%'")
            conn.execute("DELETE FROM store.orders WHERE order_id LIKE 'exp-%'")
            conn.execute("DELETE FROM store.events WHERE event_id >= 9000000000")
            conn.execute(
                "INSERT INTO store.products VALUES ('exp-p1', 'Test', 'Books', 1, now()) "
                "ON CONFLICT DO NOTHING"
            )
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO store.customers VALUES (%s, '2020-01-01', 'US', '25-34') "
                    "ON CONFLICT DO NOTHING",
                    [(c,) for c in sorted(self.customers)],
                )
                cur.executemany(
                    "INSERT INTO store.orders (order_id, customer_id, ordered_at) VALUES (%s, %s, %s)",
                    self.orders,
                )
                cur.executemany(
                    "INSERT INTO store.events (event_id, customer_id, product_id, event_type, occurred_at, "
                    "recommendation_id) VALUES (%s, %s, %s, %s, %s, %s)",
                    self.events,
                )


def crafted(store: Store, names: str = "exp") -> None:
    """200 users a variant: 150 first shown on day 1, 50 on day 2, 50 shown again on day 3.

    Primary (purchase): control 20 by day 1 and at the end; treatment 40 by day 1, 60 at the end.
    Guardrail (attributed views): control 10, treatment 30.
    """
    shown: dict[str, str] = {}
    for variant, prefix in (("control", "c"), ("treatment", "t")):
        for i in range(200):
            user = f"{names}-{prefix}{i:03d}"
            shown[user] = store.expose("crafted", variant, user, at(1, 10) if i < 150 else at(2, 10))
            if i < 50:
                store.expose("crafted", variant, user, at(3, 8))
    for i in range(20):
        store.buy(f"{names}-c{i:03d}", at(1, 12))
    store.buy(f"{names}-c020", at(1, 9))  # before its first exposure
    store.buy(f"{names}-c021", at(4, 1))  # after the experiment's end
    store.buy(f"{names}-c150", at(1, 12))  # before its first exposure, on day 2
    for i in range(40):
        store.buy(f"{names}-t{i:03d}", at(1, 12))
    for i in range(150, 170):
        store.buy(f"{names}-t{i:03d}", at(2, 12))
    for i in range(10):
        store.view(f"{names}-c{i:03d}", at(1, 11), shown[f"{names}-c{i:03d}"])
    for i in range(10, 15):
        store.view(f"{names}-c{i:03d}", at(1, 11), shown[f"{names}-t000"])  # someone else's recommendation
    for i in range(15, 20):
        store.view(f"{names}-c{i:03d}", at(1, 11), None)  # not from a recommendation
    for i in range(30):
        store.view(f"{names}-t{i:03d}", at(1, 11), shown[f"{names}-t{i:03d}"])


def crossing(store: Store) -> None:
    """200 users a variant; 10 control users are shown the treatment 4 hours after the control (a
    crossover: 2.5 % of the users), then buy, and 5 of them view the treatment's recommendation."""
    for variant, prefix in (("control", "xc"), ("treatment", "xt")):
        for i in range(200):
            store.expose("crossing", variant, f"exp-{prefix}{i:03d}", at(10, 10))
    for i in range(10):
        later = store.expose("crossing", "treatment", f"exp-xc{i:03d}", at(10, 14))
        store.buy(f"exp-xc{i:03d}", at(10, 15))
        if i < 5:
            store.view(f"exp-xc{i:03d}", at(10, 15), later)
    for i in range(40):
        store.buy(f"exp-xt{i:03d}", at(10, 12))


def lopsided(store: Store) -> None:
    """300 control users against 200 in the treatment of a 50/50 split."""
    for variant, prefix, users in (("control", "lc", 300), ("treatment", "lt", 200)):
        for i in range(users):
            store.expose("lopsided", variant, f"exp-{prefix}{i:03d}", at(1, 10, month=12))


def aa(store: Store) -> None:
    """2,000 users split by the published assignment; every user buys with the same 10 % chance."""
    rng = np.random.default_rng(5)
    variants = [("control", 50.0), ("treatment", 50.0)]
    for i in range(2000):
        user = f"exp-aa{i:04d}"
        store.expose("aa", assigned_variant(AA_SEED, user, variants), user, at(1, 10, month=1, year=2027))
        if rng.random() < 0.1:
            store.buy(user, at(1, 12, month=1, year=2027))


@pytest.fixture(scope="module")
def env(database_url, airflow_db, pipelines_dir, tmp_path_factory):
    from devenv.airflow_env import set_connections
    from devenv.postgres import apply_schema
    from personalize_pipeline.config import DEFAULT_PATH

    set_connections(db_url=database_url, aws_endpoint_url=None)
    apply_schema(database_url)
    store = Store()
    for build in (crafted, crossing, lopsided, aa):
        build(store)
    store.write(database_url)
    raw = copy.deepcopy(yaml.safe_load(DEFAULT_PATH.read_text()))
    raw.update(cache_schema=SCHEMA, experiments=EXPERIMENTS)
    with pipelines_dir({"personalize": raw}, tmp_path_factory.mktemp("experiment-pipelines")):
        yield database_url


def run(logical_date: datetime):
    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    dag_run = bag.get_dag("personalize_experiment_report").test(logical_date=logical_date)
    assert str(dag_run.state) == "success"
    ti = dag_run.get_task_instance("experiment_report")
    return dag_run, str(ti.state), ti.xcom_pull(task_ids="experiment_report")


def rows(url: str, experiment: str, day: str, schema: str = SCHEMA) -> dict[tuple[str, str], dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(
            f"SELECT * FROM {schema}.experiment_results WHERE experiment = %s AND day = %s", (experiment, day)
        )
        return {(row["metric"], row["variant"]): row for row in cur.fetchall()}


def counts(found: dict, metric: str) -> dict[str, tuple[int, int, int]]:
    return {
        variant: (row["users"], row["exposures"], row["conversions"])
        for (m, variant), row in found.items()
        if m == metric
    }


def test_the_midnight_run_reports_the_day_before_as_an_interim_result(env):
    dag_run, state, summaries = run(at(2, 0))
    assert state == "success"
    (summary,) = summaries
    assert (summary["experiment"], summary["day"], summary["horizon_reached"]) == (
        "crafted",
        "2026-11-01",
        False,
    )
    assert summary["verdict"] == "keep running"  # treatment leads 40 to 20, but the horizon is not reached
    found = rows(env, "crafted", "2026-11-01")
    assert counts(found, "primary") == {"control": (150, 150, 20), "treatment": (150, 150, 40)}
    assert {row["run_id"] for row in found.values()} == {dag_run.run_id}
    assert {row["dag_id"] for row in found.values()} == {"personalize_experiment_report"}


def test_the_final_day_counts_from_the_start_and_names_the_winner(env):
    _, _, (summary,) = run(at(4, 0))
    assert summary["horizon_reached"] and summary["verdict"] == "winner: treatment"
    found = rows(env, "crafted", "2026-11-03")
    assert counts(found, "primary") == {"control": (200, 250, 20), "treatment": (200, 250, 60)}
    assert counts(found, "clicks") == {"control": (200, 250, 10), "treatment": (200, 250, 30)}
    treatment, control = found[("primary", "treatment")], found[("primary", "control")]
    assert treatment["p_value"] == pytest.approx(proportions_ztest([60, 20], [200, 200])[1])
    assert treatment["p_adjusted"] == pytest.approx(
        treatment["p_value"]
    )  # one challenger: nothing to correct
    assert treatment["lift"] == pytest.approx(2.0)
    assert control["lift"] is None and control["p_value"] is None
    assert treatment["srm_p"] == control["srm_p"] == pytest.approx(1.0)
    assert found[("clicks", "treatment")]["verdict"] == "winner: treatment"


def test_a_rerun_replaces_its_day(env):
    before = rows(env, "crafted", "2026-11-03")
    dag_run, _, _ = run(at(4, 0))
    after = rows(env, "crafted", "2026-11-03")
    assert after.keys() == before.keys() and len(after) == 4
    assert {row["run_id"] for row in after.values()} == {dag_run.run_id}
    assert all(after[key]["computed_at"] > before[key]["computed_at"] for key in after)


def test_a_day_without_an_experiment_is_skipped(env):
    _, state, summaries = run(at(5, 0))
    assert state == "skipped" and summaries is None
    assert rows(env, "crafted", "2026-11-04") == {}


def test_a_crafted_sample_ratio_mismatch_is_invalid(env):
    _, _, (summary,) = run(at(2, 0, month=12))
    assert summary["verdict"] == "invalid: SRM"
    assert summary["metrics"]["primary"]["srm_p"] < 0.001


def test_a_user_shown_two_variants_counts_once_in_the_first_as_a_crossover(env):
    from personalize_pipeline.experiments.summary import experiment_message

    _, _, (summary,) = run(at(11, 0))
    found = rows(env, "crossing", "2026-11-10")
    # All of a crossed-over user's exposures and conversions go to the variant shown first.
    assert counts(found, "primary") == {"control": (200, 210, 10), "treatment": (200, 200, 40)}
    assert counts(found, "clicks") == {"control": (200, 210, 5), "treatment": (200, 200, 0)}
    assert {(m, v): row["crossovers"] for (m, v), row in found.items()} == {
        ("primary", "control"): 10,
        ("primary", "treatment"): 0,
        ("clicks", "control"): 10,
        ("clicks", "treatment"): 0,
    }
    treatment = found[("primary", "treatment")]
    assert treatment["p_value"] == pytest.approx(proportions_ztest([40, 10], [200, 200])[1])
    assert treatment["srm_p"] == pytest.approx(1.0)
    assert summary["crossover_share"] == pytest.approx(0.025)  # 10 of 400 users, above 1 %
    assert {row["verdict"] for row in found.values()} == {"invalid: crossover"}
    assert summary["verdict"] == "invalid: crossover"
    message = experiment_message([summary])
    assert "(SRM p 1, 2.5% of users crossed over)" in message
    assert "- control: 200 users (10 crossed over), 10 converted" in message


def test_a_results_table_from_before_crossovers_gets_the_column(env):
    with psycopg.connect(env) as conn:
        conn.execute("DROP SCHEMA IF EXISTS experiment_results_old CASCADE")
        conn.execute("CREATE SCHEMA experiment_results_old")
        conn.execute(
            "CREATE TABLE experiment_results_old.experiment_results (experiment text, day date, "
            "metric text, variant text, users bigint, PRIMARY KEY (experiment, day, metric, variant))"
        )
        conn.execute(
            "INSERT INTO experiment_results_old.experiment_results VALUES ('e', '2026-11-01', 'm', 'v', 3)"
        )
        conn.execute(compose("experiments/results_setup.sql", schema="experiment_results_old"))
        found = conn.execute(
            "SELECT users, crossovers FROM experiment_results_old.experiment_results"
        ).fetchall()
        conn.execute("DROP SCHEMA experiment_results_old CASCADE")
    assert found == [(3, 0)]


def test_an_a_a_split_finds_no_difference_and_no_mismatch(env):
    _, _, (summary,) = run(datetime(2027, 1, 2, tzinfo=UTC))
    primary = summary["metrics"]["primary"]
    assert summary["verdict"] == "no detectable difference"
    assert primary["srm_p"] > 0.001
    assert sum(v["users"] for v in primary["variants"]) == 2000
    assert min(v["users"] for v in primary["variants"]) >= 100


def test_the_schedule_runs_from_the_first_experiment_day_to_the_last(env):
    from personalize_pipeline.dags.experiment_report import schedule_window
    from personalize_pipeline.pipelines import load_pipeline

    window = schedule_window(load_pipeline("personalize"))
    assert window["catchup"] and window["schedule"] == "0 0 * * *"
    assert window["start_date"] == datetime(2026, 11, 2, tzinfo=UTC)  # reports 2026-11-01
    assert window["end_date"] == datetime(2027, 1, 2, tzinfo=UTC)  # reports 2027-01-01, the last day


@pytest.fixture
def split_databases(env, pipelines_dir, tmp_path_factory):
    """The crafted experiment again, its exposures in the cache database (``store_db``) and the store's
    rows only in another database (``connections.source_db: experiment_store``)."""
    from psycopg.conninfo import make_conninfo

    from devenv.postgres import airflow_connection_json, apply_schema
    from personalize_pipeline.config import DEFAULT_PATH

    with psycopg.connect(env, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (STORE_DATABASE,)).fetchone():
            conn.execute(f"CREATE DATABASE {STORE_DATABASE}")
    store_url = make_conninfo(env, dbname=STORE_DATABASE)
    apply_schema(store_url)
    store = Store()
    crafted(store, names="split")  # users the cache database's store tables know nothing of
    store.write_exposures(env, SPLIT_SCHEMA)
    store.write_store(store_url)
    os.environ["AIRFLOW_CONN_EXPERIMENT_STORE"] = airflow_connection_json(store_url)
    raw = copy.deepcopy(yaml.safe_load(DEFAULT_PATH.read_text()))
    raw["connections"] = raw.get("connections", {}) | {
        "source_db": "experiment_store",
        "cache_db": "store_db",
    }
    raw.update(cache_schema=SPLIT_SCHEMA, experiments={"crafted": EXPERIMENTS["crafted"]})
    try:
        with pipelines_dir({"personalize": raw}, tmp_path_factory.mktemp("split-pipelines")):
            yield env
    finally:
        del os.environ["AIRFLOW_CONN_EXPERIMENT_STORE"]


def test_the_store_may_live_in_another_database_than_the_exposures(split_databases):
    _, _, (summary,) = run(at(4, 0))
    found = rows(split_databases, "crafted", "2026-11-03", schema=SPLIT_SCHEMA)
    assert counts(found, "primary") == {"control": (200, 250, 20), "treatment": (200, 250, 60)}
    assert counts(found, "clicks") == {"control": (200, 250, 10), "treatment": (200, 250, 30)}
    assert summary["verdict"] == "winner: treatment"
