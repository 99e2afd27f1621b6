"""
The retraining DAGs' own tasks. Each takes the pipeline's name and loads its configuration when
it runs; heavy modules are imported inside, so building the DAG stays cheap.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from airflow.sdk import task

from personalize_pipeline.dags.common import run_interval

log = logging.getLogger(__name__)


def _lineage(dag_run) -> dict[str, Any]:
    data_interval_start, data_interval_end = run_interval()
    return {
        "dag_id": dag_run.dag_id,
        "run_id": dag_run.run_id,
        "data_interval_start": data_interval_start.isoformat() if data_interval_start else None,
        "data_interval_end": data_interval_end.isoformat() if data_interval_end else None,
    }


@task
def plan(pipeline: str, import_mode: str, params: dict) -> dict:
    """Decide what to import; fail, naming each export, if any is missing or failed validation."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk.exceptions import AirflowFailException

    from personalize_pipeline.import_plan import ExportsNotReadyError, already_imported, plan_imports
    from personalize_pipeline.pipelines import load_pipeline
    from personalize_pipeline.validation import DatasetValidationError

    cfg = load_pipeline(pipeline)
    imported = (
        already_imported(
            db_conn_id=cfg.connections.cache_db,
            schema=cfg.cache_schema,
            dataset_group=cfg.dataset_group,
            dataset="interactions",
        )
        if import_mode == "INCREMENTAL"
        else set()
    )
    try:
        result = plan_imports(
            cfg,
            s3=S3Hook(aws_conn_id=cfg.connections.aws),
            import_mode=import_mode,
            interval_end=run_interval()[1],
            already_imported=imported,
        ).as_dict()
    except ExportsNotReadyError as error:
        if error.retryable:
            raise  # an export may still be running: retries with backoff give it time
        raise AirflowFailException(str(error)) from error
    except DatasetValidationError as error:
        raise AirflowFailException(str(error)) from error
    if params["dry_run"]:
        log.info("Dry run: this run would import\n%s", json.dumps(result, indent=2))
    return result


@task.short_circuit(ignore_downstream_trigger_rules=False)
def proceed(params: dict) -> bool:
    """Stops here on a dry run: nothing after this point is free."""
    return not params["dry_run"]


@task
def check_data(pipeline: str, import_plan: dict, params: dict) -> dict:
    """Before any paid import: stop if the data changed shape (see monitors), unless overridden."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk.exceptions import AirflowFailException

    from personalize_pipeline.monitors import alert, check_volume
    from personalize_pipeline.pipelines import load_pipeline

    cfg = load_pipeline(pipeline)
    problems = check_volume(cfg, S3Hook(aws_conn_id=cfg.connections.aws), import_plan)
    alert(cfg, problems)
    messages = [p.message for p in problems]
    if problems and not params["override_monitors"]:
        raise AirflowFailException(
            "The data to import changed shape; nothing was imported. Check the export, or trigger "
            "again with override_monitors to import it anyway:\n  - " + "\n  - ".join(messages)
        )
    return {"problems": messages, "overridden": bool(problems)}


@task
def check_coverage(pipeline: str, solution: str, load: dict) -> list[str]:
    """After a cache load: alert (SNS) when its coverage fell against the previous load; never fails."""
    from personalize_pipeline.monitors import alert
    from personalize_pipeline.monitors import check_coverage as check
    from personalize_pipeline.pipelines import load_pipeline

    cfg = load_pipeline(pipeline)
    kind = cfg.solutions[solution].recipe_kind
    problems = check(
        cfg,
        cache=cfg.solutions[solution].output.cache_table,
        load=load,
        per_user=kind.per_user,
        item_column=kind.cache_columns[0] if kind.output_kind == "batch_segment" else kind.cache_columns[2],
        end=run_interval()[1],
    )
    alert(cfg, problems)
    return [p.message for p in problems]


@task
def interactions_locations(import_plan: dict) -> list[str]:
    """The interactions files or folder the plan imports: one import job each."""
    return import_plan["interactions"]


@task
def snapshot_location(import_plan: dict, slug: str) -> str:
    """The newest snapshot of items or users the plan imports."""
    return import_plan["snapshots"][slug]


@task(trigger_rule="none_failed")
def record_imports(pipeline: str, import_plan: dict, import_job_arns: list[str] | None, dag_run=None) -> int:
    """Remember which partitions the interactions imports brought in (for the next UPDATE run)."""
    from personalize_pipeline.import_plan import record_imports as record
    from personalize_pipeline.pipelines import load_pipeline

    cfg = load_pipeline(pipeline)
    return record(
        db_conn_id=cfg.connections.cache_db,
        schema=cfg.cache_schema,
        dataset_group=cfg.dataset_group,
        plan=import_plan,
        # Indexed up to len(): iterating the mapped results asks for one past the end, which the
        # task log reports as an error although nothing is wrong.
        import_job_arns=[import_job_arns[i] for i in range(len(import_job_arns or []))],
        dag_id=dag_run.dag_id,
        run_id=dag_run.run_id,
    )


@task.short_circuit(ignore_downstream_trigger_rules=False)
def selected(solution: str, params: dict) -> bool:
    """Train this solution only if the run asked for it (a dry run has stopped before this)."""
    return solution in params["solutions"]


@task
def training_mode(pipeline: str, solution: str, solution_arn: str, params: dict) -> str:
    """UPDATE where the recipe allows it and a FULL-trained version exists to build on; FULL otherwise."""
    from personalize_pipeline.pipelines import load_pipeline
    from personalize_provider.hooks.personalize import PersonalizeHook

    cfg = load_pipeline(pipeline)
    mode = cfg.solutions[solution].training_mode(params["training_mode"])
    if mode == "UPDATE":
        hook = PersonalizeHook(aws_conn_id=cfg.connections.aws)
        versions = hook.iter_list("list_solution_versions", "solutionVersions", solutionArn=solution_arn)
        if not any(v["status"] == "ACTIVE" for v in versions):
            log.info("%s: no ACTIVE version to update yet; training FULL", solution)
            mode = "FULL"
    elif params["training_mode"] == "UPDATE":
        log.info("%s: recipe %s cannot UPDATE; training FULL", solution, cfg.solutions[solution].recipe)
    return mode


@task.short_circuit(ignore_downstream_trigger_rules=False)
def baseline_wanted(pipeline: str, params: dict) -> bool:
    """Train the popularity baseline only when a selected per-user solution's gate compares with it."""
    from personalize_pipeline.pipelines import load_pipeline

    cfg = load_pipeline(pipeline)
    return any(name in params["solutions"] for name in cfg.baseline_solutions)


@task
def record_baseline(pipeline: str, solution_version_arn: str, dag_run=None) -> dict:
    """Keep the baseline version's metrics (baseline_versions); this run's gates compare with them."""
    from personalize_pipeline.pipelines import load_pipeline
    from personalize_pipeline.quality_gate import record_baseline as record
    from personalize_provider.hooks.personalize import PersonalizeHook

    cfg = load_pipeline(pipeline)
    hook = PersonalizeHook(aws_conn_id=cfg.connections.aws)
    metrics = hook.conn.get_solution_metrics(solutionVersionArn=solution_version_arn)["metrics"]
    record(
        db_conn_id=cfg.connections.cache_db,
        schema=cfg.cache_schema,
        solution_version_arn=solution_version_arn,
        metrics=metrics,
        lineage=_lineage(dag_run),
    )
    return {"version_arn": solution_version_arn, "metrics": metrics}


@task
def gate(
    pipeline: str,
    solution: str,
    solution_version_arn: str,
    mode: str,
    params: dict,
    baseline: dict | None = None,
    dag_run=None,
) -> dict:
    """Store the version's offline metrics and decide whether it may serve (see quality_gate)."""
    from personalize_pipeline.pipelines import load_pipeline
    from personalize_pipeline.quality_gate import Baseline, record_and_judge
    from personalize_provider.hooks.personalize import PersonalizeHook

    cfg = load_pipeline(pipeline)
    hook = PersonalizeHook(aws_conn_id=cfg.connections.aws)
    metrics = hook.conn.get_solution_metrics(solutionVersionArn=solution_version_arn)["metrics"]
    solution_cfg, rules = cfg.solutions[solution], cfg.gate_for(solution)
    if baseline is not None:
        compared_with = Baseline(**baseline)
    elif rules.baseline.enabled and not solution_cfg.recipe_kind.per_user:
        compared_with = Baseline(
            skipped=f"{solution_cfg.recipe_type} recipes are not comparable with popularity-count"
        )
    else:
        compared_with = None
    decision = record_and_judge(
        db_conn_id=cfg.connections.cache_db,
        schema=cfg.cache_schema,
        solution=solution,
        solution_version_arn=solution_version_arn,
        training_mode=mode,
        metrics=metrics,
        rules=rules,
        skip_gate=params["skip_gate"],
        lineage=_lineage(dag_run),
        baseline=compared_with,
    )
    return {**decision.as_dict(), "metrics": metrics}


@task.short_circuit(ignore_downstream_trigger_rules=False)
def promoted(decision: dict) -> bool:
    """Only a promoted version (by the gate, or by a human's approval) updates a campaign or a cache."""
    return bool(decision["promote"])


@task(multiple_outputs=True)
def batch_files(pipeline: str, solution: str, dag_run=None) -> dict[str, Any]:
    """The batch job's input, built from the database: customers with history, or every product."""
    from personalize_pipeline.batch_input import export_json_lines
    from personalize_pipeline.pipelines import load_pipeline
    from personalize_pipeline.s3_paths import run_files

    cfg = load_pipeline(pipeline)
    recipe_type = cfg.solutions[solution].recipe_kind
    input_uri = run_files(cfg.s3, dag_run.dag_id, dag_run.run_id, solution, "input.json")
    lines = export_json_lines(
        db_conn_id=cfg.connections.source_db,
        aws_conn_id=cfg.connections.aws,
        query_file=recipe_type.batch_query,
        column=recipe_type.key_column,
        json_key=recipe_type.input_key,
        # Customers with history up to the interval's end; every product whatever the interval.
        params={"end": run_interval()[1]} if recipe_type.per_user else {},
        s3_uri=input_uri,
    )
    output_uri = run_files(cfg.s3, dag_run.dag_id, dag_run.run_id, solution, "output/")
    return {"input_uri": input_uri, "output_uri": output_uri, "lines": lines}


@task
def load_cache(
    pipeline: str,
    solution: str,
    output_uri: str,
    input_lines: int,
    job_arn: str,
    decision: dict,
    dag_run=None,
) -> dict:
    """Swap the batch output into the solution's cache table (atomic, recorded with its lineage)."""
    from personalize_pipeline.cache import load_batch_output
    from personalize_pipeline.pipelines import load_pipeline

    cfg = load_pipeline(pipeline)
    solution_cfg = cfg.solutions[solution]
    return load_batch_output(
        db_conn_id=cfg.connections.cache_db,
        aws_conn_id=cfg.connections.aws,
        output_uri=output_uri,
        schema=cfg.cache_schema,
        cache_name=solution_cfg.output.cache_table,
        recipe_type=solution_cfg.recipe_type,
        keep_snapshots=cfg.retention.cache_snapshots,
        lineage={
            **_lineage(dag_run),
            "batch_job_arn": job_arn,
            "solution_version_arn": decision["solution_version_arn"],
            "metrics": decision.get("metrics"),
            "input_count": input_lines,
        },
    ).as_dict()


@task
def load_fallback(pipeline: str, kind: str, dag_run=None) -> dict:
    """Popular or trending items from the store, for anyone the models have nothing for."""
    from personalize_pipeline.cache import load_fallback as load
    from personalize_pipeline.pipelines import load_pipeline

    cfg = load_pipeline(pipeline)
    fallback = getattr(cfg.fallbacks, kind)
    return load(
        source_conn_id=cfg.connections.source_db,
        cache_conn_id=cfg.connections.cache_db,
        schema=cfg.cache_schema,
        cache_name=fallback.cache_table,
        kind=kind,
        days=fallback.days,
        size=fallback.size,
        as_of=run_interval()[1],
        keep_snapshots=cfg.retention.cache_snapshots,
        lineage=_lineage(dag_run),
    ).as_dict()


@task(trigger_rule="none_failed_min_one_success")
def lookup_function(pipeline: str) -> str:
    """(Re)create the cache's lookup: personalized rows for a customer, popular items otherwise."""
    from personalize_pipeline.cache import create_lookup_function
    from personalize_pipeline.pipelines import load_pipeline

    cfg = load_pipeline(pipeline)
    if cfg.user_cache is None:
        return "no user recommendations configured"
    create_lookup_function(
        db_conn_id=cfg.connections.cache_db,
        schema=cfg.cache_schema,
        user_cache=cfg.user_cache,
        popular_cache=cfg.fallbacks.popular.cache_table,
    )
    return f"{cfg.cache_schema}.recommendations_for"


def final_decision(ti, solution: str) -> dict | None:
    """The decision in this run: the approval step's (after a human's answer) if it ran, else the gate's."""
    from personalize_pipeline.notifications import DECISION_TASKS

    for task_id in DECISION_TASKS:
        decision = ti.xcom_pull(task_ids=task_id.format(solution=solution))
        if decision is not None:
            return decision
    return None


@task(trigger_rule="all_done")
def report(pipeline: str, ti=None, dag_run=None, params=None) -> dict:
    """The run's outcome in one place: each gate decision, each cache's live load, the estimated cost.

    The DAG's SNS notifier sends the same gate decisions; this is the log's copy and the XCom a
    caller (the demo) reads. The cost is also kept in ``run_costs`` (see run_costs).
    """
    from personalize_pipeline.notifications import gate_message
    from personalize_pipeline.pipelines import load_pipeline
    from personalize_pipeline.reporting import live_caches
    from personalize_pipeline.run_costs import estimate_and_record

    cfg = load_pipeline(pipeline)
    decisions = [d for name in cfg.solutions if (d := final_decision(ti, name)) is not None]
    caches = live_caches(db_conn_id=cfg.connections.cache_db, schema=cfg.cache_schema)
    lines = [gate_message(decisions), "", "Caches (live load):"]
    lines += [f"  {c['cache_name']}: {c['row_count']:,} rows, {c['key_count']:,} keys" for c in caches]
    if params and params.get("dry_run"):  # nothing paid ran, and a dry run leaves no trace
        log.info("\n".join(lines))
        return {"decisions": decisions, "caches": caches, "cost": None}
    try:
        estimate = estimate_and_record(cfg, ti, dag_run, *run_interval())
        lines += ["", f"Estimated AWS cost (prices of {cfg.pricing.as_of}):", *estimate.summary()]
        cost = estimate.as_dict()
    except Exception:  # the estimate must never change the run's outcome
        log.exception("The run's cost estimate failed; the run itself is unaffected")
        cost = None
    log.info("\n".join(lines))
    return {"decisions": decisions, "caches": caches, "cost": cost}


@task(trigger_rule="one_failed")
def run_failed() -> None:
    """Keeps the run failed when a task failed: the report after it always runs and would hide that."""
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException("a task of this run failed; see the failed tasks' logs")
