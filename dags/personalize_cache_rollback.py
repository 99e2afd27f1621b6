"""
### Roll a recommendation cache back

Serves the previous snapshot of a cache again, in one transaction, and marks the
bad load `rolled_back` in `cache_loads`. Trigger it from the UI and pick the cache;
the next successful load replaces it as usual. The caches are the ones configured in
include/pipeline.yaml (solutions' outputs and the fallback lists).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from personalize_pipeline.config import load_config
from personalize_pipeline.notifications import run_notifiers

cfg = load_config()
CACHES = [s.output.cache_table for s in cfg.solutions.values() if s.output] + [
    cfg.fallbacks.popular.cache_table,
    cfg.fallbacks.trending.cache_table,
]

with DAG(
    dag_id="personalize_cache_rollback",
    description="Serve the previous snapshot of a recommendation cache again.",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "cache_name": Param(
            CACHES[0],
            type="string",
            pattern=r"^[a-z_][a-z0-9_]*$",
            examples=CACHES,
            description="The cache (view) to roll back.",
        ),
        "cache_schema": Param(cfg.cache_schema, type="string", pattern=r"^[a-z_][a-z0-9_]*$"),
    },
    default_args=cfg.default_args(),
    on_success_callback=run_notifiers(cfg, "success"),
    on_failure_callback=run_notifiers(cfg, "failure"),
    doc_md=__doc__,
    tags=["personalize", "cache"],
):

    @task
    def roll_back(params: dict) -> int:
        """Repoint the cache's view at its previous snapshot; returns the load id now served."""
        from personalize_pipeline.cache import rollback
        from personalize_pipeline.config import load_config

        cfg = load_config()
        return rollback(
            db_conn_id=cfg.connections.cache_db,
            schema=params["cache_schema"],
            cache_name=params["cache_name"],
        )

    roll_back()
