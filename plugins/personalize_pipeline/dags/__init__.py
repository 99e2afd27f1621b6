"""
Builders of a pipeline's DAGs. A DAG file names its pipeline by its own file name:
``dags/personalize.py`` builds the DAGs of ``include/pipelines/personalize.yaml``.
"""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import DAG


def build_pipeline_dags(dag_file: str) -> dict[str, DAG]:
    """Every DAG of the pipeline named like ``dag_file``, by DAG id (for the file's globals)."""
    from personalize_pipeline.dags.cleanup import build_cleanup_dag
    from personalize_pipeline.dags.event_sync import build_event_sync_dag
    from personalize_pipeline.dags.experiment_report import build_experiment_report_dag
    from personalize_pipeline.dags.export import build_export_dag
    from personalize_pipeline.dags.retrain import build_retrain_dag
    from personalize_pipeline.dags.rollback import build_rollback_dag
    from personalize_pipeline.pipelines import load_pipeline

    cfg = load_pipeline(Path(dag_file).stem)
    dags = [
        build_export_dag(cfg),
        build_retrain_dag(cfg, "FULL"),
        build_retrain_dag(cfg, "UPDATE"),
        build_event_sync_dag(cfg),
        build_cleanup_dag(cfg),
        build_rollback_dag(cfg),
        build_experiment_report_dag(cfg),
    ]
    return {dag.dag_id: dag for dag in dags}
