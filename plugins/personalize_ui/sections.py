"""
What each section of the page shows for one pipeline, read from its cache database and from
Airflow's metadata database. Every section is read on its own (its own connection and
transaction, read-only, with a statement timeout): a failing query becomes that section's
message, never an error page.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from personalize_pipeline.config import PipelineConfig

log = logging.getLogger(__name__)

STATEMENT_TIMEOUT = "5s"
ACTIVE_DAYS = 30  # a customer with interactions in this many trailing days is active
LIVE = ("promoted", "skipped_gate")


@dataclass
class Section:
    data: Any = None
    error: str | None = None


def guarded(read, cfg: PipelineConfig) -> Section:
    try:
        return Section(data=read(cfg))
    except Exception as error:  # shown in the section; the rest of the page still renders
        log.warning("Personalize page: %s of %s failed", read.__name__, cfg.name, exc_info=True)
        return Section(error=f"{type(error).__name__}: {error}".strip())


@contextlib.contextmanager
def reading(conn_id: str):
    """A read-only transaction whose statements give up after ``STATEMENT_TIMEOUT``."""
    from personalize_pipeline.db import connect, set_local

    with connect(conn_id) as conn, conn.transaction():
        set_local(conn, "statement_timeout", STATEMENT_TIMEOUT)
        set_local(conn, "transaction_read_only", "on")
        yield conn


def _rows(conn, query, params: dict | None = None) -> list[dict[str, Any]]:
    cursor = conn.execute(query, params or {})
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _number(value: Any, metric: str) -> float | None:
    if isinstance(value, dict):
        value = value.get(metric)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _baseline(row: dict[str, Any]) -> float | None:
    """The popularity baseline's score on the gate metric, as the gate recorded it next to the candidate."""
    return _number(row.get("baseline_value"), "")


def solutions(cfg: PipelineConfig) -> list[dict[str, Any]]:
    from personalize_pipeline.db import table_exists
    from personalize_pipeline.sql_files import compose

    with reading(cfg.connections.cache_db) as conn:
        recorded = table_exists(conn, cfg.cache_schema, "solution_metrics")
        query = compose("ui/solution_history.sql", schema=cfg.cache_schema)
        history = {name: _rows(conn, query, {"solution": name}) if recorded else [] for name in cfg.solutions}
    return [_solution(cfg, name, rows) for name, rows in history.items()]


def _solution(cfg: PipelineConfig, name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One solution's versions in decision order, the live one (as the gate picks it) and the chart."""
    from personalize_pipeline.quality_gate import short_name
    from personalize_ui import charts

    metric = cfg.gate_for(name).metric
    values = [_number(r["metrics"], metric) for r in rows]
    baseline = [_baseline(r) for r in rows]
    live = max((r for r in rows if r["decision"] in LIVE), key=lambda r: r["decision_seq"], default=None)
    labels = [
        f"{r['solution_version_arn'].rsplit('/', 1)[-1][:10]}\n{r['first_decided_at']:%m-%d}" for r in rows
    ]
    decisions = [r["decision"] for r in rows]
    return {
        "name": name,
        "recipe": cfg.solutions[name].recipe,
        "metric": metric,
        "live": live,
        "live_value": _number(live["metrics"], metric) if live else None,
        "versions": [
            {**r, "value": v, "baseline": b} for r, v, b in zip(rows, values, baseline, strict=True)
        ][::-1],
        "baseline_value": next((b for b in reversed(baseline) if b is not None), None),
        "baseline_applies": cfg.solutions[name].recipe_kind.per_user and cfg.gate_for(name).baseline.enabled,
        "chart": charts.metric_history(labels, values, decisions, short_name(metric), baseline)
        if rows
        else None,
    }


def caches(cfg: PipelineConfig) -> dict[str, Any]:
    from personalize_pipeline.db import table_exists
    from personalize_pipeline.sql_files import compose

    with reading(cfg.connections.cache_db) as conn:
        if not table_exists(conn, cfg.cache_schema, "cache_loads"):
            return {"loads": [], "coverage": None}
        loads = _rows(conn, compose("ui/caches.sql", schema=cfg.cache_schema))
    user_load = next((load for load in loads if load["cache_name"] == cfg.user_cache), None)
    return {"loads": loads, "coverage": _coverage(cfg, user_load) if user_load else None}


def _coverage(cfg: PipelineConfig, user_load: dict[str, Any]) -> dict[str, Any]:
    """Share of the customers active in the trailing days (up to the load's interval end) it covers."""
    from psycopg import sql

    from personalize_pipeline.sql_files import compose, read_sql

    if cfg.connections.source_db != cfg.connections.cache_db:
        return {"note": "needs the store and the caches in one database (connections.source_db = cache_db)"}
    end = user_load["data_interval_end"] or datetime.now(UTC)
    start = end - timedelta(days=ACTIVE_DAYS)
    query = compose(
        "ui/coverage.sql",
        interactions=sql.SQL(read_sql(cfg.datasets.interactions.query)),
        user_cache=(cfg.cache_schema, cfg.user_cache),
    )
    with reading(cfg.connections.cache_db) as conn:
        (row,) = _rows(conn, query, {"start": start, "end": end})
    share = row["covered"] / row["active"] if row["active"] else None
    return {**row, "share": share, "start": start, "end": end}


def exports(cfg: PipelineConfig) -> dict[str, Any]:
    """Each dataset's partitions from the export's asset events in Airflow's metadata database.

    The events carry the validated row count, the file and its partition, written by the task that
    validated it: the page needs no S3 access (nor AWS credentials in the API server) to show them.
    """
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from personalize_pipeline.dags.common import dataset_asset
    from personalize_pipeline.s3_paths import report_file
    from personalize_ui import charts

    slugs = {dataset_asset(cfg, spec.slug).name: spec.slug for spec in cfg.dataset_specs()}
    with create_session() as session:
        events = session.execute(
            select(AssetModel.name, AssetEvent.timestamp, AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name.in_(list(slugs)))
            .order_by(AssetEvent.timestamp)
        ).all()
    datasets: dict[str, dict[str, dict[str, Any]]] = {slug: {} for slug in slugs.values()}
    for asset_name, timestamp, extra in events:
        if extra and "partition" in extra:
            partitions = datasets[slugs[asset_name]]
            runs = partitions.get(extra["partition"], {}).get("exports", 0) + 1
            partitions[extra["partition"]] = {
                **extra,
                "exported_at": timestamp,
                "exports": runs,
                "report": report_file(cfg.s3, slugs[asset_name], extra["partition"]),
            }
    interactions = sorted(datasets.get("interactions", {}).items())
    chart = (
        charts.rows_per_partition([p for p, _ in interactions], [e.get("rows") or 0 for _, e in interactions])
        if interactions
        else None
    )
    return {"datasets": {slug: sorted(p.items()) for slug, p in datasets.items()}, "chart": chart}


def experiments(cfg: PipelineConfig) -> dict[str, Any]:
    from personalize_pipeline.db import table_exists
    from personalize_pipeline.sql_files import compose

    with reading(cfg.connections.cache_db) as conn:
        if not table_exists(conn, cfg.cache_schema, "experiment_results"):
            return {"configured": cfg.experiments, "results": None}
        rows = _rows(conn, compose("ui/experiment_results.sql", schema=cfg.cache_schema))
    by_metric: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        by_metric.setdefault((row["experiment"], row["metric"]), []).append(row)
    return {
        "configured": cfg.experiments,
        "results": [
            _experiment(name, metric, metric_rows) for (name, metric), metric_rows in by_metric.items()
        ],
    }


def _experiment(name: str, metric: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Conversion by variant and day (the chart), and the latest day's numbers and verdict."""
    from personalize_ui import charts

    series: dict[str, list] = {}
    for r in rows:
        series.setdefault(r["variant"], []).append(
            (str(r["day"]), float(r["rate"] or 0), _float(r["ci_low"]), _float(r["ci_high"]))
        )
    last_day = max(r["day"] for r in rows)
    latest = [r for r in rows if r["day"] == last_day]
    return {
        "experiment": name,
        "metric": metric,
        "latest": latest,
        "verdict": next((r["verdict"] for r in latest if r["verdict"]), None),
        "chart": charts.conversion_by_day(series),
    }


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


def cost(cfg: PipelineConfig) -> dict[str, Any]:
    from personalize_pipeline.run_costs import monthly_totals

    with reading(cfg.connections.cache_db) as conn:
        months = monthly_totals(conn, cfg.cache_schema)
    return {"months": months, "pricing": cfg.pricing}


SECTIONS = {
    "solutions": solutions,
    "caches": caches,
    "exports": exports,
    "experiments": experiments,
    "cost": cost,
}


def pipeline_page(cfg: PipelineConfig) -> dict[str, Section]:
    return {name: guarded(read, cfg) for name, read in SECTIONS.items()}
