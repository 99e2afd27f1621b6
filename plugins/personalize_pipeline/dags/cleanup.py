"""
### Personalize cleanup ({pipeline})

Applies `retention` from the pipeline's file:
* solution versions: trainings still running that are not a solution's newest are stopped,
  and ACTIVE versions beyond the newest `solution_versions` are reported (Personalize has no
  call to delete one; an undeployed version costs nothing);
* S3: interaction partitions and item/user snapshots beyond the newest `export_partitions`,
  with their validation reports, and retraining runs' batch files older than `run_files_days`.
  Only this pipeline's prefix is touched.

It also checks freshness: a live cache older than the retraining schedule allows
(`monitoring.freshness_grace` intervals) is reported to the SNS topic; the run does not fail.

Set `dry_run` in the trigger form to see what would go.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param, task

from personalize_pipeline.config import BASELINE_SOLUTION, PipelineConfig
from personalize_pipeline.dags.common import dag_args
from personalize_provider.operators.personalize_cleanup import PersonalizeCleanupSolutionVersionsOperator


@task
def solution_arn(pipeline: str, name: str) -> str:
    """The solution's ARN; skips the cleanup of a solution no run has created yet."""
    from airflow.sdk.exceptions import AirflowSkipException

    from personalize_pipeline.pipelines import load_pipeline
    from personalize_provider.hooks.personalize import PersonalizeHook

    cfg = load_pipeline(pipeline)
    hook = PersonalizeHook(aws_conn_id=cfg.connections.aws)
    group = hook.find_arn_by_name(
        "list_dataset_groups", "datasetGroups", "datasetGroupArn", cfg.dataset_group
    )
    arn = group and hook.find_arn_by_name(
        "list_solutions", "solutions", "solutionArn", cfg.resource_name(name), datasetGroupArn=group
    )
    if not arn:
        raise AirflowSkipException(f"solution {cfg.resource_name(name)} does not exist yet")
    return arn


@task
def prune_s3(pipeline: str, params: dict, data_interval_end=None) -> dict:
    """Old export partitions, snapshots and run files."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from personalize_pipeline.cleanup import prune_exports, prune_run_files
    from personalize_pipeline.pipelines import load_pipeline

    cfg = load_pipeline(pipeline)
    s3 = S3Hook(aws_conn_id=cfg.connections.aws)
    removed = prune_exports(cfg, s3, dry_run=params["dry_run"])
    if data_interval_end is None:  # triggered without a logical date: prune as of the trigger time
        from airflow.sdk import get_current_context

        data_interval_end = get_current_context()["dag_run"].run_after
    runs = prune_run_files(cfg, s3, now=data_interval_end, dry_run=params["dry_run"])
    return {"exports": removed, "run_files": runs, "dry_run": params["dry_run"]}


@task
def freshness(pipeline: str) -> list[str]:
    """Alert (SNS) for each live cache older than its retraining schedule allows."""
    from airflow.sdk.timezone import utcnow

    from personalize_pipeline.monitors import alert, freshness_problems
    from personalize_pipeline.pipelines import load_pipeline
    from personalize_pipeline.reporting import live_caches

    cfg = load_pipeline(pipeline)
    caches = live_caches(db_conn_id=cfg.connections.cache_db, schema=cfg.cache_schema)
    problems = freshness_problems(cfg, caches, utcnow())
    alert(cfg, problems)
    return [p.message for p in problems]


def build_cleanup_dag(cfg: PipelineConfig) -> DAG:
    with DAG(
        **dag_args(
            cfg,
            "cleanup",
            doc_md=__doc__,
            schedule=cfg.schedules.cleanup,
            data_intervals=False,
            params={"dry_run": Param(False, type="boolean", description="Only log what would be removed.")},
            description="Apply the retention policy to solution versions and the pipeline's S3 files.",
        )
    ) as dag:
        # The popularity baseline trains a version each run: the same retention applies to it.
        baseline = [BASELINE_SOLUTION] if cfg.baseline_solutions else []
        for name in [*cfg.solutions, *baseline]:
            PersonalizeCleanupSolutionVersionsOperator(
                task_id=f"versions_{name}",
                solution_arn=solution_arn.override(task_id=f"find_{name}")(cfg.name, name),
                keep_newest=cfg.retention.solution_versions,
                dry_run="{{ params.dry_run }}",
                aws_conn_id=cfg.connections.aws,
                doc_md=f"Stops stray trainings of {name} that are not its newest, and reports ACTIVE "
                f"versions beyond the newest {cfg.retention.solution_versions}.",
            )
        prune_s3(cfg.name)
        freshness(cfg.name)
    return dag
