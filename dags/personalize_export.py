"""
### Personalize export

For each data interval of `schedules.export` (include/pipeline.yaml): that interval's
interactions become one CSV partition, `datasets/interactions/<interval start>.csv`, and the
items and users tables one snapshot each, `datasets/<items|users>/<interval start>.csv`.
Every file is validated while it is written and gets a report under `reports/`. A rerun
overwrites its interval's files, so a backfill over past intervals rebuilds history:

    airflow backfill create --dag-id personalize_export --from-date 2026-01-01 --to-date 2026-04-01

Nothing here calls Personalize: the retraining DAGs import what this DAG wrote.
Snapshots hold the catalogue as it is when the run executes (the store keeps no history of it).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task
from airflow.timetables.interval import CronDataIntervalTimetable

from personalize_pipeline.config import load_config
from personalize_pipeline.notifications import run_notifiers

cfg = load_config()


@task
def export(slug: str, data_interval_start=None, data_interval_end=None) -> dict:
    """Stream one dataset for this interval to its CSV in S3; fail, naming the rows, if it is invalid."""
    from airflow.sdk.exceptions import AirflowFailException

    from personalize_pipeline.config import load_config
    from personalize_pipeline.extract import export_dataset_to_s3
    from personalize_pipeline.s3_paths import dataset_file, partition_label, report_file
    from personalize_pipeline.validation import DatasetValidationError

    cfg = load_config()
    spec = next(s for s in cfg.dataset_specs() if s.slug == slug)
    label = partition_label(data_interval_start)
    try:
        report = export_dataset_to_s3(
            db_conn_id=cfg.connections.source_db,
            aws_conn_id=cfg.connections.aws,
            spec=spec,
            params={"start": data_interval_start, "end": data_interval_end} if slug == "interactions" else {},
            s3_uri=dataset_file(cfg.s3, slug, label),
            report_uri=report_file(cfg.s3, slug, label),
            # One interval is a slice of the dataset: the service's minimums apply to the whole, at import.
            check_minimums=False,
        )
    except DatasetValidationError as error:
        raise AirflowFailException(str(error)) from error  # the same rows would fail again: no retry
    return {"partition": label, "rows": report["rows"], "uri": report["uri"]}


with DAG(
    dag_id="personalize_export",
    description="Export each interval's interactions and the item and user snapshots to validated CSVs.",
    schedule=CronDataIntervalTimetable(cfg.schedules.export, timezone="UTC")
    if cfg.schedules.export
    else None,
    start_date=pendulum.datetime(cfg.start_date.year, cfg.start_date.month, cfg.start_date.day, tz="UTC"),
    catchup=True,
    max_active_runs=2,
    default_args=cfg.default_args(),
    on_success_callback=run_notifiers(cfg, "success"),
    on_failure_callback=run_notifiers(cfg, "failure"),
    doc_md=__doc__,
    tags=["personalize", "export"],
) as dag:
    for spec in cfg.dataset_specs():
        export.override(task_id=f"export_{spec.slug}", doc_md=f"Export {spec.slug} for the interval.")(
            spec.slug
        )
