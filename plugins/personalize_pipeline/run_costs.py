"""
What one retraining run consumed, read back from the service, S3 and the cache loads, and its
estimated cost recorded in ``<cache_schema>.run_costs`` (monthly totals: :func:`monthly_totals`).

Run by the retraining DAG's report task: the XComs name the run's import jobs, solution versions
and solutions; nothing here starts anything that costs money.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb

from personalize_pipeline.config import PipelineConfig
from personalize_pipeline.costs import GB, CostEstimate, Usage, estimate, tps_hours
from personalize_pipeline.db import connect, run_setup, table_exists
from personalize_pipeline.s3_paths import split_s3_uri
from personalize_pipeline.sql_files import compose


def _pulled(ti, task_id: str) -> list[str]:
    """A task's XCom as a list: a mapped task's values, one value, or none when it did not run."""
    value = ti.xcom_pull(task_ids=task_id)
    values = value if isinstance(value, list) else [value]
    return [v for v in values if v]


def _bytes_at(s3, uri: str) -> int:
    """Size of the object at ``uri``, or of every object under it when it is a folder."""
    bucket, key = split_s3_uri(uri)
    pages = s3.get_conn().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
    return sum(o["Size"] for page in pages for o in page.get("Contents", []))


def run_usage(cfg: PipelineConfig, ti, run_id: str, start: datetime | None, end: datetime | None) -> Usage:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from personalize_provider.hooks.personalize import PersonalizeHook

    personalize = PersonalizeHook(aws_conn_id=cfg.connections.aws).conn
    s3 = S3Hook(aws_conn_id=cfg.connections.aws)
    imports = [arn for spec in cfg.dataset_specs() for arn in _pulled(ti, f"{spec.slug}.import")]
    locations = {
        personalize.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]["dataSource"][
            "dataLocation"
        ]
        for arn in imports
    }
    versions = [arn for name in cfg.solutions for arn in _pulled(ti, f"{name}.train")]
    hours = sum(
        personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"].get("trainingHours")
        or 0.0
        for arn in versions
    )
    recommendations, segment_users = _batch_output(cfg, run_id)
    return Usage(
        gb_ingested=sum(_bytes_at(s3, uri) for uri in locations) / GB,
        training_hours=hours,
        batch_recommendations=recommendations,
        segment_users=segment_users,
        tps_hours=_campaign_tps_hours(cfg, personalize, ti, start, end),
    )


def _batch_output(cfg: PipelineConfig, run_id: str) -> tuple[int, int]:
    with connect(cfg.connections.cache_db) as conn:
        if not table_exists(conn, cfg.cache_schema, "cache_loads"):
            return 0, 0
        row = conn.execute(compose("costs/run_batch_output.sql", schema=cfg.cache_schema), {"run_id": run_id})
        recommendations, segment_users = row.fetchone()
    return int(recommendations), int(segment_users)


def _campaign_tps_hours(cfg: PipelineConfig, personalize, ti, start, end) -> float:
    """Each enabled campaign's provisioned TPS over the hours of the run's interval it existed."""
    if start is None or end is None:
        return 0.0
    total = 0.0
    for name, solution in cfg.solutions.items():
        solution_arns = _pulled(ti, f"{name}.solution")
        if not solution.campaign.enabled or not solution_arns:
            continue
        campaigns = personalize.list_campaigns(solutionArn=solution_arns[0])["campaigns"]
        for campaign in campaigns:
            if campaign["name"] == cfg.resource_name(name):
                created = campaign["creationDateTime"].astimezone(UTC)
                total += tps_hours(solution.campaign.min_provisioned_tps, created, None, start, end)
    return total


def record(cfg: PipelineConfig, dag_id: str, run_id: str, start, end, cost: CostEstimate) -> None:
    """Store the run's estimate (a rerun of the report replaces it)."""
    with connect(cfg.connections.cache_db) as conn:
        run_setup(conn, "costs/setup.sql", schema=cfg.cache_schema)
        with conn.transaction():
            conn.execute(
                compose("costs/record.sql", schema=cfg.cache_schema),
                {
                    "dag_id": dag_id,
                    "run_id": run_id,
                    "data_interval_start": start,
                    "data_interval_end": end,
                    **cost.usage.as_dict(),
                    "cost_lines": Jsonb(cost.lines),
                    "total_usd": cost.total,
                    "pricing": Jsonb(cfg.pricing.model_dump(mode="json")),
                },
            )


def estimate_and_record(cfg: PipelineConfig, ti, dag_run, start, end) -> CostEstimate:
    """The run's estimated cost, stored in ``run_costs``; for the report task."""
    cost = estimate(run_usage(cfg, ti, dag_run.run_id, start, end), cfg.pricing)
    record(cfg, dag_run.dag_id, dag_run.run_id, start, end, cost)
    return cost


def monthly_totals(conn, schema: str, months: int = 12) -> list[dict[str, Any]]:
    """Estimated cost and usage per calendar month, the most recent first; [] before any run."""
    if not table_exists(conn, schema, "run_costs"):
        return []
    cursor = conn.execute(compose("costs/monthly.sql", schema=schema), {"months": months})
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
