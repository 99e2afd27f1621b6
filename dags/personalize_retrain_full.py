"""
### Personalize monthly FULL retraining (Airflow DAG)

Imports every exported interactions partition (FULL, the whole `datasets/interactions/` folder)
and the newest items and users snapshots, trains every configured solution in parallel, and
lets the quality gate decide what serves: a promoted version updates its campaign (when
enabled) and replaces its cache table through a batch job; a rejected one changes nothing and
the report says why. Popular and trending fallback lists are refreshed on every run.

Trigger it by hand from the form to choose the solutions, the training mode, to skip the gate
or to make a dry run (checks the exports and prints the plan, with no paid call).
Configuration: include/pipeline.yaml (`schedules.full_retrain`).
"""

from __future__ import annotations

from personalize_pipeline.config import load_config
from personalize_pipeline.retrain_dag import build_retrain_dag

cfg = load_config()
dag = build_retrain_dag(
    cfg, dag_id="personalize_retrain_full", mode="FULL", schedule=cfg.schedules.full_retrain, doc_md=__doc__
)
