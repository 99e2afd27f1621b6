"""
The daily experiment report: for every experiment running on a day, per metric and variant, the
counts (include/sql/experiments/variant_counts.sql), the statistics and verdict (``stats``), kept in
``{cache_schema}.experiment_results``. Cumulative: a day's rows cover the experiment's start to the
day's end (or the experiment's end, if sooner); a rerun of the day replaces them.

The exposures live in ``connections.cache_db``, the store's events and orders in
``connections.source_db``. Each experiment's exposed users (each in the variant of their first
exposure) are loaded into temporary tables on the store's connection, streamed by COPY when the
two are different connections, so the counts join them with the store wherever it lives.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd

from personalize_pipeline.config import PRIMARY_METRIC, ExperimentConfig, MetricConfig, PipelineConfig
from personalize_pipeline.db import connect, run_setup
from personalize_pipeline.experiments.stats import (
    COUNT_COLUMNS,
    RESULT_COLUMNS,
    Rules,
    analyse,
    crossover_share,
)
from personalize_pipeline.sql_files import compose

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
        max_crossover_share=experiment.max_crossover_share,
    )
    return until, rules


def metrics(experiment: ExperimentConfig) -> dict[str, MetricConfig]:
    return {PRIMARY_METRIC: experiment.primary_metric, **experiment.guardrails}


def run_report(cfg: PipelineConfig, day: date, *, dag_id: str | None, run_id: str | None) -> list[dict]:
    """Analyse and store every experiment running on ``day``; their summaries (``analyse_experiment``)."""
    experiments = running_on(cfg, day)
    if not experiments:
        return []
    schema = cfg.cache_schema
    with connect(cfg.connections.cache_db) as conn, _store_connection(cfg, conn) as store:
        run_setup(conn, "experiments/setup.sql", "experiments/results_setup.sql", schema=schema)
        summaries = []
        for name, experiment in experiments.items():
            until = rules_on(experiment, day)[0]
            load_exposed(conn, store, schema, name, experiment, until)
            summary, rows = analyse_experiment(store, name, experiment, day)
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


def _store_connection(cfg: PipelineConfig, cache):
    """The store's connection: the cache's own when both are the same connection id."""
    source = cfg.connections.source_db
    return nullcontext(cache) if source == cfg.connections.cache_db else connect(source)


def load_exposed(cache, store, schema: str, name: str, experiment: ExperimentConfig, until: datetime) -> None:
    """Fill the store connection's ``experiment_exposed`` (and, for an attributed metric,
    ``experiment_shown``) from the cache's exposures of [start, until)."""
    params = {"experiment": name, "start": experiment.start, "until": until}
    store.execute(compose("experiments/exposed_setup.sql"))
    tables = {"experiment_exposed": "experiments/exposed_users.sql"}
    if any(metric.attributed for metric in metrics(experiment).values()):
        tables["experiment_shown"] = "experiments/shown.sql"
    for table, query_file in tables.items():
        query = compose(query_file, schema=schema)
        if store is cache:
            store.execute(compose("experiments/fill.sql", table=table, query=query), params)
            continue
        copy_out = compose("experiments/copy_out.sql", query=query).as_string(cache)
        copy_in = compose("experiments/copy_in.sql", table=table)
        with (
            cache.cursor() as out_cur,
            store.cursor() as in_cur,
            out_cur.copy(copy_out, params) as out,
            in_cur.copy(copy_in) as into,
        ):
            for chunk in out:
                into.write(chunk)
    store.execute(compose("experiments/exposed_analyze.sql"))


def analyse_experiment(store, name: str, experiment: ExperimentConfig, day: date):
    """The experiment's summary for the day and its result rows, one per metric and variant, from the
    exposed users ``load_exposed`` left on the store's connection."""
    until, rules = rules_on(experiment, day)
    summary: dict[str, Any] = {
        "experiment": name,
        "day": day.isoformat(),
        "horizon_reached": rules.horizon_reached,
        "metrics": {},
    }
    rows = []
    for metric_name, metric in metrics(experiment).items():
        counts = variant_counts(store, experiment, metric, until)
        results, srm, verdict = analyse(counts, rules)
        variants = [_plain(record) for record in results.to_dict("records")]
        summary["metrics"][metric_name] = {
            "verdict": verdict,
            "srm_p": _plain_number(srm),
            "variants": variants,
        }
        common = {"experiment": name, "day": day, "metric": metric_name, "srm_p": _plain_number(srm)}
        rows += [common | variant | {"verdict": verdict} for variant in variants]
    summary["verdict"] = summary["metrics"][PRIMARY_METRIC]["verdict"]
    summary["crossover_share"] = _plain_number(crossover_share(counts))  # users, so any metric's counts
    return summary, rows


def variant_counts(
    store, experiment: ExperimentConfig, metric: MetricConfig, until: datetime
) -> pd.DataFrame:
    """Users, exposures, conversions and crossovers per configured variant (zeros for one nobody was
    first shown; users first shown a variant no longer configured are left out)."""
    params = {
        "start": experiment.start,
        "until": until,
        "event_type": metric.event_type,
        "attributed": metric.attributed,
    }
    found = {
        variant: counts
        for variant, *counts in store.execute(compose("experiments/variant_counts.sql"), params)
    }
    return pd.DataFrame(
        [(v.name, v.weight, *found.get(v.name, (0, 0, 0, 0))) for v in experiment.variants],
        columns=COUNT_COLUMNS,
    )


def _plain_number(value: Any) -> float | None:
    """A float for JSON and SQL: NaN (undefined) becomes None (NULL)."""
    return None if value is None or math.isnan(value) else float(value)


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    counts = {key: int(record[key]) for key in ("users", "exposures", "conversions", "crossovers")}
    return {"variant": record["variant"], **counts} | {
        key: _plain_number(record[key]) for key in RESULT_COLUMNS
    }
