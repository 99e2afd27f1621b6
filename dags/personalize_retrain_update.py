"""
### Personalize weekly UPDATE retraining (Airflow DAG)

Imports, INCREMENTAL, the interactions partitions no import has brought in since the last FULL
run (none when event sync streams interactions), and the newest items and users snapshots; then
trains each solution with trainingMode UPDATE where its recipe allows it (FULL otherwise, and
FULL the first time, when there is no version to update). The same quality gate, campaigns,
caches and report as the monthly FULL run.
Configuration: include/pipeline.yaml (`schedules.update_retrain`).
"""

from __future__ import annotations

from personalize_pipeline.config import load_config
from personalize_pipeline.retrain_dag import build_retrain_dag

cfg = load_config()
dag = build_retrain_dag(
    cfg,
    dag_id="personalize_retrain_update",
    mode="UPDATE",
    schedule=cfg.schedules.update_retrain,
    doc_md=__doc__,
)
