"""
The daily experiment report: for every experiment running on a day, per metric and variant, the
counts (include/sql/experiments/variant_counts.sql), the statistics and verdict (``stats``), kept in
``{cache_schema}.experiment_results``. Cumulative: a day's rows cover the experiment's start to the
day's end (or the experiment's end, if sooner); a rerun of the day replaces them.

Reads the exposures and the store's events through ``connections.cache_db``: both live in that database.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd

from personalize_pipeline.config import ExperimentConfig, MetricConfig, PipelineConfig
from personalize_pipeline.db import connect
from personalize_pipeline.experiments.stats import RESULT_COLUMNS, Rules, analyse
from personalize_pipeline.sql_files import compose

PRIMARY = "primary"
DAY = timedelta(days=1)


def report_day(logical_date: datetime) -> date:
    """The UTC day a run reports on: the last one that ended by its logical date (a daily run at
    midnight reports the day before it)."""
    return (logical_date.astimezone(UTC) - DAY).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + DAY


def running_on(cfg: PipelineConfig, day: date) -> dict[str, ExperimentConfig]:
    """The experiments with any time inside the day."""
    start, end = day_bounds(day)
    return {
        name: experiment
        for name, experiment in cfg.experiments.items()
        if experiment.start < end and (experiment.end is None or experiment.end > start)
    }


def rules_on(experiment: ExperimentConfig, day: date) -> tuple[datetime, Rules]:
    """Where the day's cumulative window ends, and the rules, with the fixed horizon reached or not."""
    day_end = day_bounds(day)[1]
    until = day_end if experiment.end is None else min(day_end, experiment.end)
    rules = Rules(
        alpha=experiment.alpha,
        minimum_users=experiment.minimum_users_per_variant,
        srm_p_value=experiment.srm_p_value,
        horizon_reached=experiment.end is not None and day_end >= experiment.end,
    )
    return until, rules


def metrics(experiment: ExperimentConfig) -> dict[str, MetricConfig]:
    return {PRIMARY: experiment.primary_metric, **experiment.guardrails}


def run_report(cfg: PipelineConfig, day: date, *, dag_id: str | None, run_id: str | None) -> list[dict]:
    """Analyse and store every experiment running on ``day``; their summaries (``analyse_experiment``)."""
    experiments = running_on(cfg, day)
    if not experiments:
        return []
    schema = cfg.cache_schema
    with connect(cfg.connections.cache_db) as conn:
        conn.execute(compose("experiments/setup.sql", schema=schema))
        conn.execute(compose("experiments/results_setup.sql", schema=schema))
        summaries = []
        for name, experiment in experiments.items():
            summary, rows = analyse_experiment(conn, schema, name, experiment, day)
            conn.execute(
                compose("experiments/delete_day.sql", schema=schema), {"experiment": name, "day": day}
            )
            with conn.cursor() as cursor:
                cursor.executemany(
                    compose("experiments/insert_result.sql", schema=schema),
                    [row | {"dag_id": dag_id, "run_id": run_id} for row in rows],
                )
            summaries.append(summary)
    return summaries


def analyse_experiment(conn, schema: str, name: str, experiment: ExperimentConfig, day: date):
    """The experiment's summary for the day and its result rows, one per metric and variant."""
    until, rules = rules_on(experiment, day)
    summary: dict[str, Any] = {
        "experiment": name,
        "day": day.isoformat(),
        "horizon_reached": rules.horizon_reached,
        "metrics": {},
    }
    rows = []
    for metric_name, metric in metrics(experiment).items():
        counts = variant_counts(conn, schema, name, experiment, metric, until)
        results, srm, verdict = analyse(counts, rules)
        variants = [_plain(record) for record in results.to_dict("records")]
        summary["metrics"][metric_name] = {
            "verdict": verdict,
            "srm_p": _plain_number(srm),
            "variants": variants,
        }
        common = {"experiment": name, "day": day, "metric": metric_name, "srm_p": _plain_number(srm)}
        rows += [common | variant | {"verdict": verdict} for variant in variants]
    summary["verdict"] = summary["metrics"][PRIMARY]["verdict"]
    return summary, rows


def variant_counts(
    conn, schema: str, name: str, experiment: ExperimentConfig, metric: MetricConfig, until: datetime
) -> pd.DataFrame:
    """Users, exposures and conversions per configured variant (zeros for one nobody was shown)."""
    params = {
        "experiment": name,
        "start": experiment.start,
        "until": until,
        "event_type": metric.event_type,
        "attributed": metric.attributed,
    }
    found = {
        variant: (users, exposures, conversions)
        for variant, users, exposures, conversions in conn.execute(
            compose("experiments/variant_counts.sql", schema=schema), params
        )
    }
    return pd.DataFrame(
        [(v.name, v.weight, *found.get(v.name, (0, 0, 0))) for v in experiment.variants],
        columns=["variant", "weight", "users", "exposures", "conversions"],
    )


def _plain_number(value: Any) -> float | None:
    """A float for JSON and SQL: NaN (undefined) becomes None (NULL)."""
    return None if value is None or math.isnan(value) else float(value)


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    counts = {key: int(record[key]) for key in ("users", "exposures", "conversions")}
    return {"variant": record["variant"], **counts} | {
        key: _plain_number(record[key]) for key in RESULT_COLUMNS
    }
