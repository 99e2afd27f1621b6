"""
### Personalize event sync ({pipeline})

Streams the store's interactions that are newer than the last run to Personalize with
PutEvents, so the models see recent behaviour between retrainings.

1. **dataset_group** and **event_tracker**: created, or adopted by name
   (`dataset_group` and `event_sync.tracker_name` in the pipeline's file). The interactions
   dataset itself comes from the export/retrain DAGs; until it exists the sync is skipped and
   the watermark stays where it is.
2. **send_events**: interactions inserted after the watermark, in ingestion order
   (inserting transaction id, time, source key), read only below the oldest transaction still
   open so a late commit is never skipped, at most `event_sync.max_events_per_run`. A row timed
   at or after the run's end (the data interval end; `run_after` for a manual run) is not due:
   it and the rows inserted after it wait for a later run. A row inserted late with an old time
   is sent. They go out per user and session, 1–10 events per call.
   Each eventId is the interaction's source key (`e:<event_id>` for `store.events`,
   `o:<order_id>:<line_no>` for order lines), so a rerun or a retry never counts an event
   twice: Personalize uses an eventId once. The session is the user's UTC day.

The watermark lives in `{cache_schema}.event_sync_state` (one row per tracker). A tracker's
first run starts it at the end of the newest export interval that has ended by the run's end
(`schedules.export` from `start_date`; `start_date` midnight UTC if none has ended yet): the
history up to there reaches Personalize through the retraining DAGs' bulk imports, and on AWS a
FULL import does not replace events sent with PutEvents, so sending it here too would duplicate
it. Event sync covers what is timed after that (`from_ts`) and inserted since. The watermark
moves only after a chunk's calls all succeeded, committed per chunk: a failed run resumes where
it stopped. `restart_from` (run parameter) moves it once for that run, e.g. to resend everything
timed from then; moved before the end of the last export interval, it resends history the bulk
imports already hold.

Throttling: the events client retries in botocore's adaptive mode (10 attempts); a
ThrottlingException that still gets through is retried with backoff, then the task retries.

With `event_sync.enabled: false` the DAG stays, unscheduled: manual runs only.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param, task

from personalize_pipeline.config import PipelineConfig
from personalize_pipeline.dags.common import aws_args, dag_args, poll_param
from personalize_provider.operators.personalize import (
    PersonalizeCreateDatasetGroupOperator,
    PersonalizeCreateEventTrackerOperator,
)


@task
def send_events(pipeline: str, tracking_id: str, dataset_group_arn: str, params: dict, dag_run=None) -> dict:
    """PutEvents for the interactions after the watermark; returns the counts."""
    import pendulum
    from airflow.sdk.exceptions import AirflowSkipException

    from personalize_pipeline import event_sync
    from personalize_pipeline.pipelines import load_pipeline

    until = dag_run.data_interval_end or dag_run.run_after
    restart = params.get("restart_from")
    try:
        result = event_sync.run_event_sync(
            cfg=load_pipeline(pipeline),
            tracking_id=tracking_id,
            dataset_group_arn=dataset_group_arn,
            until=until,
            run_id=dag_run.run_id,
            restart_from=pendulum.parse(restart) if restart else None,
        )
    except event_sync.InteractionsDatasetMissing as missing:
        raise AirflowSkipException(str(missing)) from None
    event_sync.log.info(
        "Sent %d events for %d users in %d PutEvents calls (%d throttled retries); watermark %s -> %s.",
        result.events,
        result.users,
        result.calls,
        result.throttled,
        result.since,
        result.watermark,
    )
    return result.as_dict()


def build_event_sync_dag(cfg: PipelineConfig) -> DAG:
    params = {
        "poll_seconds": poll_param(cfg),
        "restart_from": Param(
            None,
            type=["null", "string"],
            format="date-time",
            description="Move the watermark to this time before sending (once per run). Events "
            "already sent are ignored by the service, so moving it back is safe.",
        ),
    }
    with DAG(
        **dag_args(
            cfg,
            "event_sync",
            doc_md=__doc__,
            schedule=cfg.schedules.event_sync if cfg.event_sync.enabled else None,
            data_intervals=False,
            params=params,
            description="Send interactions newer than the last run to Personalize (PutEvents).",
        )
    ) as dag:
        aws = aws_args(cfg)
        dataset_group = PersonalizeCreateDatasetGroupOperator(
            task_id="dataset_group",
            name=cfg.dataset_group,
            doc_md=f"Creates the dataset group `{cfg.dataset_group}`, or adopts it when it exists.",
            **aws,
        )
        tracker = PersonalizeCreateEventTrackerOperator(
            task_id="event_tracker",
            name=cfg.event_sync.tracker_name,
            dataset_group_arn=dataset_group.output,
            doc_md=f"Creates or adopts the event tracker `{cfg.event_sync.tracker_name}`; its tracking id "
            "goes to send_events.",
            **aws,
        )
        send_events(cfg.name, tracker.output["tracking_id"], dataset_group.output)
    return dag
