"""The end-to-end DAG, run with dag.test() against the local endpoint and a real PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tiny_store(pipeline_env):
    from devenv import datagen

    datagen.load(pipeline_env["database_url"], datagen.generate("tiny"))
    return pipeline_env


@pytest.fixture(scope="module")
def finished_run(tiny_store):
    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT

    dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).get_dag("personalize_end_to_end")
    return dag.test(run_conf={"poll_seconds": 1, "num_results": 10})


def test_run_succeeds(finished_run):
    assert str(finished_run.state) == "success"


def test_every_customer_with_history_has_the_configured_number_of_known_items(finished_run, tiny_store):
    with psycopg.connect(tiny_store["database_url"]) as conn:
        customers_with_history = {
            r[0]
            for r in conn.execute(
                "SELECT customer_id FROM store.events UNION SELECT customer_id FROM store.orders"
            )
        }
        per_user = dict(
            conn.execute(
                "SELECT user_id, count(*) FROM personalize_cache.user_recommendations GROUP BY 1"
            ).fetchall()
        )
        unknown = conn.execute(
            "SELECT count(*) FROM personalize_cache.user_recommendations r "
            "LEFT JOIN store.products p ON p.product_id = r.item_id WHERE p.product_id IS NULL"
        ).fetchone()[0]
        ranks_ok = conn.execute(
            "SELECT bool_and(rank BETWEEN 1 AND 10) AND bool_and(score > 0 AND score <= 1) "
            "FROM personalize_cache.user_recommendations"
        ).fetchone()[0]
    assert customers_with_history, "the tiny data set has no customers with history"
    assert set(per_user) == customers_with_history
    assert set(per_user.values()) == {10}
    assert unknown == 0
    assert ranks_ok


def test_load_is_recorded_with_its_lineage(finished_run, tiny_store):
    with psycopg.connect(tiny_store["database_url"]) as conn:
        row = conn.execute(
            "SELECT status, run_id, solution_version_arn, batch_job_arn, row_count, key_count "
            "FROM personalize_cache.cache_loads WHERE cache_name = 'user_recommendations' "
            "ORDER BY load_id DESC LIMIT 1"
        ).fetchone()
    status, run_id, version, job, rows, keys = row
    assert status == "live"
    assert run_id == finished_run.run_id
    assert ":solution/" in version and ":batch-inference-job/" in job
    assert rows == keys * 10
