"""
### Roll a recommendation cache back ({pipeline})

Serves the previous snapshot of a cache again, in one transaction, and marks the bad load
`rolled_back` in `cache_loads`. Trigger it from the UI and pick the cache; the next successful
load replaces it as usual. Only this pipeline's caches (its `cache_schema`) can be chosen.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param, task

from personalize_pipeline.config import PipelineConfig
from personalize_pipeline.dags.common import dag_args


@task
def roll_back(pipeline: str, params: dict) -> int:
    """Repoint the cache's view at its previous snapshot; returns the load id now served."""
    from personalize_pipeline.cache import rollback
    from personalize_pipeline.pipelines import load_pipeline

    cfg = load_pipeline(pipeline)
    return rollback(
        db_conn_id=cfg.connections.cache_db, schema=cfg.cache_schema, cache_name=params["cache_name"]
    )


def build_rollback_dag(cfg: PipelineConfig) -> DAG:
    caches = cfg.cache_tables
    params = {
        "cache_name": Param(
            caches[0], type="string", enum=caches, description="The cache (view) to roll back."
        )
    }
    with DAG(
        **dag_args(
            cfg,
            "cache_rollback",
            doc_md=__doc__,
            params=params,
            description="Serve the previous snapshot of a recommendation cache again.",
        )
    ) as dag:
        roll_back(cfg.name)
    return dag
