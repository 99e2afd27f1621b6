"""
### Roll a recommendation cache back

Serves the previous snapshot of a cache again, in one transaction, and marks the
bad load `rolled_back` in `cache_loads`. Trigger it from the UI with the cache's
name; the next successful load replaces it as usual.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param, task

DB_CONN_ID = "store_db"

with DAG(
    dag_id="personalize_cache_rollback",
    description="Serve the previous snapshot of a recommendation cache again.",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "cache_schema": Param("personalize_cache", type="string", pattern=r"^[a-z_][a-z0-9_]*$"),
        "cache_name": Param(
            "user_recommendations",
            type="string",
            pattern=r"^[a-z_][a-z0-9_]*$",
            description="The cache (view) to roll back.",
        ),
    },
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10), "retry_exponential_backoff": True},
    doc_md=__doc__,
    tags=["personalize", "cache"],
):

    @task
    def roll_back(params: dict) -> int:
        """Repoint the cache's view at its previous snapshot; returns the load id now served."""
        from personalize_pipeline.cache import rollback

        return rollback(db_conn_id=DB_CONN_ID, schema=params["cache_schema"], cache_name=params["cache_name"])

    roll_back()
