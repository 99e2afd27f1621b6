"""
### Experiment report ({pipeline})

Daily, for every experiment in the pipeline's file that ran on the day: per variant and metric
(the primary metric, then each guardrail) the users exposed, their exposures, the users who
converted after their first exposure, the rate with its Wilson interval, the lift against the
control with its interval, the two-proportion z test with Holm's correction across variants, the
sample-ratio-mismatch test, the users shown a second variant after their first (crossovers; each
user counts in the variant of their first exposure), and the verdict (`keep running`, `winner: X`,
`no detectable difference`, `invalid: SRM`, `invalid: crossover`; rules in the README's
"Experiments" section). The exposures are read from `connections.cache_db`, the store's events
and orders from `connections.source_db`, which may be another database.

A run reports on the UTC day that ended at its logical date (the midnight run reports the day
before), cumulatively from the experiment's start; the rows go to `{cache_schema}.experiment_results`
and replace those of an earlier run of the same day. Catchup and backfills cover the experiment
days; a day with no experiment running is skipped. The run's SNS message carries the verdicts.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pendulum
from airflow.sdk import DAG, task

from personalize_pipeline.config import PipelineConfig
from personalize_pipeline.dags.common import dag_args
from personalize_pipeline.notifications import EXPERIMENT_TASK

DAILY = "0 0 * * *"


@task(task_id=EXPERIMENT_TASK)
def report(pipeline: str, logical_date=None, dag_run=None) -> list[dict]:
    """Analyses the experiments that ran on the day before the logical date and stores the results;
    returns their summaries (the SNS message's verdicts). Skips a day with no experiment."""
    from airflow.sdk.exceptions import AirflowSkipException

    from personalize_pipeline.experiments.report import report_day, run_report
    from personalize_pipeline.pipelines import load_pipeline

    cfg = load_pipeline(pipeline)
    day = report_day(logical_date or dag_run.run_after)
    summaries = run_report(cfg, day, dag_id=dag_run.dag_id, run_id=dag_run.run_id)
    if not summaries:
        raise AirflowSkipException(f"no experiment ran on {day}")
    return summaries


def _next_midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date() + timedelta(days=1), time.min, tzinfo=UTC)


def schedule_window(cfg: PipelineConfig) -> dict:
    """The first run reports the earliest experiment's first day; the last, the latest one's last day
    (no end when an experiment has none). Without experiments the DAG is manual only."""
    if not cfg.experiments:
        return {"schedule": None}
    experiments = cfg.experiments.values()
    ends = [e.end for e in experiments]
    window = {
        "schedule": DAILY,
        "catchup": True,
        "start_date": pendulum.instance(_next_midnight(min(e.start for e in experiments))),
    }
    if None not in ends:
        window["end_date"] = pendulum.instance(_next_midnight(max(ends) - timedelta(microseconds=1)))
    return window


def build_experiment_report_dag(cfg: PipelineConfig) -> DAG:
    with DAG(
        **dag_args(
            cfg,
            "experiment_report",
            doc_md=__doc__,
            data_intervals=False,
            description="Daily statistics and verdicts of the pipeline's A/B experiments.",
            **schedule_window(cfg),
        )
    ) as dag:
        report(cfg.name)
    return dag
