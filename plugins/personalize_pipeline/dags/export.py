"""
### Personalize export ({pipeline})

For each data interval of `schedules.export`: that interval's interactions become one CSV
partition, `datasets/interactions/<interval start>.csv`, and the items and users tables one
snapshot each, `datasets/<items|users>/<interval start>.csv`. Every file is validated while it
is written and gets a report under `reports/`. A rerun overwrites its interval's files, so a
backfill over past intervals rebuilds history (see the README for the command).

Each dataset's S3 folder is an Airflow Asset: every export records an asset event with the
partition and its row count, and the retraining DAGs list the folders as inlets, so the asset
graph shows the lineage. Scheduling stays time-based (backfills need data intervals).

Nothing here calls Personalize: the retraining DAGs import what this DAG wrote. Snapshots hold
the products and customers created before the interval's end, with their current attributes
(the store keeps no history of changes or deletions).
"""

from __future__ import annotations

import logging

from airflow.sdk import DAG, task

from personalize_pipeline.config import PipelineConfig
from personalize_pipeline.dags.common import dag_args, dataset_asset, run_interval

log = logging.getLogger(__name__)


@task
def export(pipeline: str, slug: str, outlet_events=None) -> dict:
    """Stream one dataset for this interval to its CSV in S3; fail, naming the rows, if it is invalid."""
    import pendulum
    from airflow.sdk.exceptions import AirflowFailException

    from personalize_pipeline.extract import export_dataset_to_s3
    from personalize_pipeline.pipelines import load_pipeline
    from personalize_pipeline.s3_paths import dataset_file, partition_label, report_file
    from personalize_pipeline.validation import DatasetValidationError

    data_interval_start, data_interval_end = run_interval()
    cfg = load_pipeline(pipeline)
    spec = next(s for s in cfg.dataset_specs() if s.slug == slug)
    label = partition_label(data_interval_start)
    if slug == "interactions":
        from personalize_pipeline.time_range import OutOfRangeError, check_interactions_range

        try:
            before_start = check_interactions_range(
                db_conn_id=cfg.connections.source_db,
                query_file=spec.query_file,
                start_date=cfg.start,
                now=pendulum.now("UTC"),
            )
        except OutOfRangeError as error:
            raise AirflowFailException(str(error)) from error  # the same rows would fail again
        if before_start is not None:
            log.warning("%s", before_start)
    try:
        report = export_dataset_to_s3(
            db_conn_id=cfg.connections.source_db,
            aws_conn_id=cfg.connections.aws,
            spec=spec,
            # Snapshots take the interval's end too: a backfill exports the catalogue as of then.
            params={"start": data_interval_start, "end": data_interval_end},
            s3_uri=dataset_file(cfg.s3, slug, label),
            report_uri=report_file(cfg.s3, slug, label),
            # One interval is a slice of the dataset: the service's minimums apply to the whole, at import.
            check_minimums=False,
        )
    except DatasetValidationError as error:
        raise AirflowFailException(str(error)) from error  # the same rows would fail again: no retry
    result = {"partition": label, "rows": report["rows"], "uri": report["uri"]}
    outlet_events[dataset_asset(cfg, slug)].extra = result
    return result


def build_export_dag(cfg: PipelineConfig) -> DAG:
    with DAG(
        **dag_args(
            cfg,
            "export",
            doc_md=__doc__,
            schedule=cfg.schedules.export,
            catchup=True,
            max_active_runs=2,
            description="Each interval's interactions, items and users as validated CSVs in S3.",
        )
    ) as dag:
        for spec in cfg.dataset_specs():
            slug = spec.slug
            export.override(
                task_id=f"export_{slug}",
                outlets=[dataset_asset(cfg, slug)],
                doc_md=f"Export {slug} for the interval to `{dataset_asset(cfg, slug).extra['location']}`.",
            )(cfg.name, slug)
    return dag
