"""
The retraining DAG, built from the configuration for the monthly FULL and weekly UPDATE runs.

plan (which exports to import; fails before any paid call if one is missing or invalid)
→ dataset group, schemas, datasets, filters → imports → per solution, in parallel:
choose the training mode → train → quality gate → (if promoted) campaign update, batch job,
cache swap → fallback lists → report (gate decisions, cache counts, SNS).

Both DAG files call :func:`build_retrain_dag`; task callables import their heavy modules
inside, so parsing stays fast and touches neither a database nor the network.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Param, TaskGroup, chain, task
from airflow.timetables.interval import CronDataIntervalTimetable

from personalize_pipeline.config import PipelineConfig
from personalize_pipeline.notifications import run_notifiers
from personalize_provider.operators.personalize import (
    PersonalizeCreateBatchInferenceJobOperator,
    PersonalizeCreateBatchSegmentJobOperator,
    PersonalizeCreateCampaignOperator,
    PersonalizeCreateDatasetGroupOperator,
    PersonalizeCreateDatasetImportJobOperator,
    PersonalizeCreateDatasetOperator,
    PersonalizeCreateFilterOperator,
    PersonalizeCreateSchemaOperator,
    PersonalizeCreateSolutionOperator,
    PersonalizeCreateSolutionVersionOperator,
)

log = logging.getLogger(__name__)
POLL = "{{ params.poll_seconds }}"


def retrain_params(cfg: PipelineConfig, mode: str) -> dict[str, Param]:
    """The trigger form: what a person running the DAG by hand may choose."""
    names = list(cfg.solutions)
    return {
        "training_mode": Param(
            "UPDATE" if mode == "UPDATE" else "FULL",
            enum=["FULL", "UPDATE"],
            description="UPDATE trains only where the recipe allows it (FULL otherwise).",
        ),
        "solutions": Param(
            names,
            type="array",
            items={"type": "string", "enum": names},
            examples=names,
            description="Which configured solutions to train; the others are left as they are.",
        ),
        "skip_gate": Param(
            False, type="boolean", description="Promote even if the quality gate would reject the model."
        ),
        "dry_run": Param(
            False,
            type="boolean",
            description="Check the exports and show the plan; no import, training or cache change.",
        ),
        "poll_seconds": Param(
            cfg.poll_seconds, type="integer", minimum=1, description="Seconds between status checks."
        ),
    }


def _schema_name(cfg: PipelineConfig, slug: str, schema: dict) -> str:
    # Schemas cannot change: a changed field list gets a new name, and the dataset's
    # adopt check then names the schema that differs.
    digest = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()[:8]
    return cfg.resource_name(slug, digest)


def _lineage(dag_run, data_interval_start, data_interval_end) -> dict[str, Any]:
    return {
        "dag_id": dag_run.dag_id,
        "run_id": dag_run.run_id,
        "data_interval_start": data_interval_start.isoformat() if data_interval_start else None,
        "data_interval_end": data_interval_end.isoformat() if data_interval_end else None,
    }


# -- tasks ---------------------------------------------------------------------------------------


@task
def plan(import_mode: str, params: dict, data_interval_end=None) -> dict:
    """Decide what to import; fail, naming each export, if any is missing or failed validation."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk.exceptions import AirflowFailException

    from personalize_pipeline.config import load_config
    from personalize_pipeline.import_plan import ExportsNotReadyError, already_imported, plan_imports
    from personalize_pipeline.validation import DatasetValidationError

    cfg = load_config()
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
            interval_end=data_interval_end,
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
def interactions_locations(import_plan: dict) -> list[str]:
    return import_plan["interactions"]


@task
def snapshot_location(import_plan: dict, slug: str) -> str:
    return import_plan["snapshots"][slug]


@task(trigger_rule="none_failed")
def record_imports(import_plan: dict, import_job_arns: list[str] | None, dag_run=None) -> int:
    """Remember which partitions the interactions imports brought in (for the next UPDATE run)."""
    from personalize_pipeline.config import load_config
    from personalize_pipeline.import_plan import record_imports as record

    cfg = load_config()
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
def training_mode(solution: str, solution_arn: str, params: dict) -> str:
    """UPDATE where the recipe allows it and a FULL-trained version exists to build on; FULL otherwise."""
    from personalize_pipeline.config import load_config
    from personalize_provider.hooks.personalize import PersonalizeHook

    cfg = load_config()
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


@task
def gate(
    solution: str,
    solution_version_arn: str,
    mode: str,
    params: dict,
    dag_run=None,
    data_interval_start=None,
    data_interval_end=None,
) -> dict:
    """Store the version's offline metrics and decide whether it may serve (see quality_gate)."""
    from personalize_pipeline.config import load_config
    from personalize_pipeline.quality_gate import record_and_judge
    from personalize_provider.hooks.personalize import PersonalizeHook

    cfg = load_config()
    hook = PersonalizeHook(aws_conn_id=cfg.connections.aws)
    metrics = hook.conn.get_solution_metrics(solutionVersionArn=solution_version_arn)["metrics"]
    decision = record_and_judge(
        db_conn_id=cfg.connections.cache_db,
        schema=cfg.cache_schema,
        solution=solution,
        solution_version_arn=solution_version_arn,
        training_mode=mode,
        metrics=metrics,
        rules=cfg.gate_for(solution),
        skip_gate=params["skip_gate"],
        lineage=_lineage(dag_run, data_interval_start, data_interval_end),
    )
    return {**decision.as_dict(), "metrics": metrics}


@task.short_circuit(ignore_downstream_trigger_rules=False)
def promoted(decision: dict) -> bool:
    """Only a promoted version updates a campaign or replaces a cache."""
    return bool(decision["promote"])


@task(multiple_outputs=True)
def batch_files(solution: str, dag_run=None, data_interval_end=None) -> dict[str, Any]:
    """The batch job's input, built from the database: customers with history, or every product."""
    from personalize_pipeline.batch_input import export_json_lines
    from personalize_pipeline.config import load_config
    from personalize_pipeline.s3_paths import run_files

    cfg = load_config()
    per_user = cfg.solutions[solution].recipe_type == "USER_PERSONALIZATION"
    input_uri = run_files(cfg.s3, dag_run.dag_id, dag_run.run_id, solution, "input.json")
    lines = export_json_lines(
        db_conn_id=cfg.connections.source_db,
        aws_conn_id=cfg.connections.aws,
        query_file="extract/batch_users.sql" if per_user else "extract/batch_items.sql",
        column="user_id" if per_user else "item_id",
        json_key="userId" if per_user else "itemId",
        params={"end": data_interval_end} if per_user else {},
        s3_uri=input_uri,
    )
    output_uri = run_files(cfg.s3, dag_run.dag_id, dag_run.run_id, solution, "output/")
    return {"input_uri": input_uri, "output_uri": output_uri, "lines": lines}


@task
def load_cache(
    solution: str,
    output_uri: str,
    input_lines: int,
    job_arn: str,
    decision: dict,
    dag_run=None,
    data_interval_start=None,
    data_interval_end=None,
) -> dict:
    """Swap the batch output into the solution's cache table (atomic, recorded with its lineage)."""
    from personalize_pipeline.cache import load_batch_output
    from personalize_pipeline.config import load_config

    cfg = load_config()
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
            **_lineage(dag_run, data_interval_start, data_interval_end),
            "batch_job_arn": job_arn,
            "solution_version_arn": decision["solution_version_arn"],
            "metrics": decision.get("metrics"),
            "input_count": input_lines,
        },
    ).as_dict()


@task
def load_fallback(kind: str, dag_run=None, data_interval_start=None, data_interval_end=None) -> dict:
    """Popular or trending items from the store, for anyone the models have nothing for."""
    from personalize_pipeline.cache import load_fallback as load
    from personalize_pipeline.config import load_config

    cfg = load_config()
    fallback = getattr(cfg.fallbacks, kind)
    return load(
        source_conn_id=cfg.connections.source_db,
        cache_conn_id=cfg.connections.cache_db,
        schema=cfg.cache_schema,
        cache_name=fallback.cache_table,
        kind=kind,
        days=fallback.days,
        size=fallback.size,
        as_of=data_interval_end,
        keep_snapshots=cfg.retention.cache_snapshots,
        lineage=_lineage(dag_run, data_interval_start, data_interval_end),
    ).as_dict()


@task(trigger_rule="none_failed_min_one_success")
def lookup_function() -> str:
    """(Re)create the cache's lookup: personalized rows for a customer, popular items otherwise."""
    from personalize_pipeline.cache import create_lookup_function
    from personalize_pipeline.config import load_config

    cfg = load_config()
    user_caches = [
        s.output.cache_table
        for s in cfg.solutions.values()
        if s.output is not None and s.recipe_type == "USER_PERSONALIZATION"
    ]
    if not user_caches:
        return "no user recommendations configured"
    create_lookup_function(
        db_conn_id=cfg.connections.cache_db,
        schema=cfg.cache_schema,
        user_cache=user_caches[0],
        popular_cache=cfg.fallbacks.popular.cache_table,
    )
    return f"{cfg.cache_schema}.recommendations_for"


@task(trigger_rule="all_done")
def report(ti=None) -> dict:
    """The run's outcome in one place: each gate decision and each cache's live load.

    The DAG's SNS notifier sends the same gate decisions; this is the log's copy and the XCom a
    caller (the demo) reads.
    """
    from personalize_pipeline.config import load_config
    from personalize_pipeline.notifications import gate_message
    from personalize_pipeline.reporting import live_caches

    cfg = load_config()
    decisions = [d for name in cfg.solutions if (d := ti.xcom_pull(task_ids=f"{name}.gate")) is not None]
    caches = live_caches(db_conn_id=cfg.connections.cache_db, schema=cfg.cache_schema)
    lines = [gate_message(decisions), "", "Caches (live load):"]
    lines += [f"  {c['cache_name']}: {c['row_count']:,} rows, {c['key_count']:,} keys" for c in caches]
    log.info("\n".join(lines))
    return {"decisions": decisions, "caches": caches}


@task(trigger_rule="one_failed")
def run_failed() -> None:
    """Keeps the run failed when a task failed: the report after it always runs and would hide that."""
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException("a task of this run failed; see the failed tasks' logs")


# -- the DAG ---------------------------------------------------------------------------------------


def build_retrain_dag(
    cfg: PipelineConfig, *, dag_id: str, mode: str, schedule: str | None, doc_md: str
) -> DAG:
    """The FULL (monthly) or UPDATE (weekly) retraining DAG for every configured solution."""
    import_mode = "FULL" if mode == "FULL" else "INCREMENTAL"
    aws = {"aws_conn_id": cfg.connections.aws, "waiter_delay": POLL, "deferrable": True}
    with DAG(
        dag_id=dag_id,
        description=f"{mode} retraining of every configured solution, gated, then served from caches.",
        schedule=CronDataIntervalTimetable(schedule, timezone="UTC") if schedule else None,
        start_date=pendulum.datetime(cfg.start_date.year, cfg.start_date.month, cfg.start_date.day, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        params=retrain_params(cfg, mode),
        default_args=cfg.default_args(),
        on_success_callback=run_notifiers(cfg, "success"),
        on_failure_callback=run_notifiers(cfg, "failure"),
        doc_md=doc_md,
        tags=["personalize", "retrain", mode.lower()],
    ) as dag:
        import_plan = plan(import_mode)
        go = proceed()
        import_plan >> go

        group = PersonalizeCreateDatasetGroupOperator(task_id="dataset_group", name=cfg.dataset_group, **aws)
        go >> group
        imports, dataset_arns = [], {}
        for spec in cfg.dataset_specs():
            with TaskGroup(group_id=spec.slug):
                schema = PersonalizeCreateSchemaOperator(
                    task_id="schema",
                    name=_schema_name(cfg, spec.slug, spec.schema),
                    schema=spec.schema,
                    aws_conn_id=cfg.connections.aws,
                )
                dataset = PersonalizeCreateDatasetOperator(
                    task_id="dataset",
                    name=cfg.resource_name(spec.slug),
                    dataset_group_arn=group.output,
                    dataset_type=spec.dataset_type,
                    schema_arn=schema.output,
                    **aws,
                )
                go >> schema
                dataset_arns[spec.slug] = dataset.output
                if spec.slug == "interactions":
                    locations = interactions_locations(import_plan)
                    job = PersonalizeCreateDatasetImportJobOperator.partial(
                        task_id="import",
                        dataset_arn=dataset.output,
                        role_arn=cfg.role_arn,
                        import_mode=import_mode,
                        pool="personalize_import",
                        **aws,
                    ).expand(data_location=locations)
                    go >> locations
                    record_imports(import_plan, job.output)
                else:
                    location = snapshot_location(import_plan, spec.slug)
                    go >> location
                    job = PersonalizeCreateDatasetImportJobOperator(
                        task_id="import",
                        dataset_arn=dataset.output,
                        data_location=location,
                        role_arn=cfg.role_arn,
                        import_mode=import_mode,
                        pool="personalize_import",
                        **aws,
                    )
                imports.append(job)
        # An UPDATE run may have no new partition: its empty mapped import is skipped, not failed.
        imports_done = EmptyOperator(task_id="imports_done", trigger_rule="none_failed")
        imports >> imports_done

        filter_arns = {}
        if cfg.filters:
            with TaskGroup(group_id="filters"):
                for name, expression in cfg.filters.items():
                    created = PersonalizeCreateFilterOperator(
                        task_id=name.replace("-", "_"),
                        name=cfg.resource_name(name),
                        dataset_group_arn=group.output,
                        filter_expression=expression,
                        **aws,
                    )
                    imports_done >> created  # a filter on interactions needs the dataset filled
                    filter_arns[name] = created

        ends = []
        for name, solution_cfg in cfg.solutions.items():
            with TaskGroup(group_id=name, tooltip=f"{solution_cfg.recipe}"):
                chosen = selected(name)
                go >> chosen
                solution = PersonalizeCreateSolutionOperator(
                    task_id="solution",
                    name=cfg.resource_name(name),
                    dataset_group_arn=group.output,
                    recipe_arn=solution_cfg.recipe_arn,
                    solution_config={
                        "algorithmHyperParameters": {
                            k: str(v) for k, v in solution_cfg.hyperparameters.items()
                        }
                    }
                    if solution_cfg.hyperparameters
                    else None,
                    **aws,
                )
                chosen >> solution
                mode_of_run = training_mode(name, solution.output)
                train = PersonalizeCreateSolutionVersionOperator(
                    task_id="train",
                    solution_arn=solution.output,
                    training_mode=mode_of_run,
                    pool="personalize_training",
                    **aws,
                )
                imports_done >> train
                decision = gate(name, train.output, mode_of_run)
                ends.append(decision)
                ok = promoted(decision)
                if solution_cfg.campaign.enabled:
                    campaign = PersonalizeCreateCampaignOperator(
                        task_id="campaign",
                        name=cfg.resource_name(name),
                        solution_version_arn=train.output,
                        min_provisioned_tps=solution_cfg.campaign.min_provisioned_tps,
                        **aws,
                    )
                    ok >> campaign
                output = solution_cfg.output
                if output is not None:
                    files = batch_files(name)
                    ok >> files
                    job_class = (
                        PersonalizeCreateBatchSegmentJobOperator
                        if output.kind == "batch_segment"
                        else PersonalizeCreateBatchInferenceJobOperator
                    )
                    job = job_class(
                        task_id=output.kind,
                        solution_version_arn=train.output,
                        input_path=files["input_uri"],
                        output_path=files["output_uri"],
                        role_arn=cfg.role_arn,
                        num_results=output.num_results,
                        filter_arn=filter_arns[output.filter].output if output.filter else None,
                        pool=f"personalize_{output.kind}",
                        **aws,
                    )
                    loaded = load_cache(name, files["output_uri"], files["lines"], job.output, decision)
                    ends.append(loaded)

        with TaskGroup(group_id="fallbacks"):
            fallbacks = [load_fallback.override(task_id=kind)(kind) for kind in ("popular", "trending")]
            go >> fallbacks
        lookup = lookup_function()
        chain(fallbacks, lookup)
        ends >> lookup
        final = report()
        [import_plan, lookup, *ends] >> final
        watcher = run_failed()
        [t for t in dag.tasks if t is not watcher.operator] >> watcher
    return dag
