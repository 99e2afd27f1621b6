"""
### Personalize {mode} retraining ({pipeline})

{mode_doc}

plan (which exports to import; fails before any paid call if one is missing or invalid)
→ dataset group, schemas, datasets, filters → imports → per solution, in parallel:
choose the training mode → train → quality gate (against the live version and, for per-user
recipes, a popularity-count baseline trained on the same data) → approval by a human when
`quality_gate.approval` asks for one → (if promoted) campaign update, batch job, cache swap →
fallback lists → report (gate decisions, cache counts, SNS).

Trigger it by hand from the form to choose the solutions, the training mode, to skip the gate
or to make a dry run (checks the exports and prints the plan, with no paid call).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Param, TaskGroup, chain

from personalize_pipeline.config import BASELINE_RECIPE, BASELINE_SOLUTION, PipelineConfig, SolutionConfig
from personalize_pipeline.dags import retrain_tasks as tasks
from personalize_pipeline.dags.common import aws_args, dag_args, dataset_asset, poll_param
from personalize_pipeline.datasets import DatasetSpec
from personalize_pipeline.pools import IMPORT_POOL, TRAINING_POOL
from personalize_provider.operators import personalize as operators

MODE_DOCS = {
    "FULL": "Imports every exported interactions partition (FULL, the whole `datasets/interactions/` "
    "folder) and the newest items and users snapshots, trains every configured solution in "
    "parallel, and lets the quality gate decide what serves: a promoted version updates its "
    "campaign (when enabled) and replaces its cache table through a batch job; a rejected one "
    "changes nothing and the report says why. Popular and trending lists are refreshed every run.",
    "UPDATE": "Imports, INCREMENTAL, the interactions partitions no import has brought in since the "
    "last FULL run (none when event sync streams interactions), and the newest items and users "
    "snapshots; then trains each solution with trainingMode UPDATE where its recipe allows it "
    "(FULL otherwise, and FULL the first time, when there is no version to update). The same "
    "quality gate, campaigns, caches and report as the monthly FULL run.",
}


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
        "override_monitors": Param(
            False,
            type="boolean",
            description="Import even when this interval's volume or unknown items are beyond the "
            "monitoring limits (the run stops otherwise).",
        ),
        "poll_seconds": poll_param(cfg),
    }


def schema_name(cfg: PipelineConfig, slug: str, schema: dict) -> str:
    """Schemas cannot change: a changed field list gets a new name, and the dataset's adopt
    check then names the schema that differs."""
    digest = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()[:8]
    return cfg.resource_name(slug, digest)


@dataclass
class _Build:
    """What the pieces of one retraining DAG hand each other while it is built."""

    cfg: PipelineConfig
    import_mode: str
    aws: dict[str, Any]
    plan: Any = None
    go: Any = None
    group: Any = None
    imports_done: Any = None
    baseline: Any = None
    filters: dict[str, Any] = field(default_factory=dict)
    ends: list[Any] = field(default_factory=list)


def _plan(b: _Build) -> None:
    b.plan = tasks.plan(b.cfg.name, b.import_mode)
    proceed = tasks.proceed()
    b.plan >> proceed
    b.go = tasks.check_data(b.cfg.name, b.plan)  # nothing paid starts before the data checks pass
    proceed >> b.go
    b.group = operators.PersonalizeCreateDatasetGroupOperator(
        task_id="dataset_group",
        name=b.cfg.dataset_group,
        doc_md=f"Creates the dataset group `{b.cfg.dataset_group}`, or adopts it when it exists.",
        **b.aws,
    )
    b.go >> b.group


def _dataset(b: _Build, spec: DatasetSpec):
    """Schema, dataset and its import job(s): mapped over the plan's partitions for interactions."""
    cfg = b.cfg
    with TaskGroup(group_id=spec.slug):
        schema = operators.PersonalizeCreateSchemaOperator(
            task_id="schema",
            name=schema_name(cfg, spec.slug, spec.schema),
            schema=spec.schema,
            aws_conn_id=cfg.connections.aws,
            doc_md=f"Creates or adopts the {spec.slug} schema. Its name carries a hash of the fields: "
            "a schema cannot change, so a changed field list is a new schema.",
        )
        dataset = operators.PersonalizeCreateDatasetOperator(
            task_id="dataset",
            name=cfg.resource_name(spec.slug),
            dataset_group_arn=b.group.output,
            dataset_type=spec.dataset_type,
            schema_arn=schema.output,
            doc_md=f"Creates or adopts the group's {spec.slug} dataset; an existing one with another "
            "schema fails, naming both.",
            **b.aws,
        )
        b.go >> schema
        job_args = {
            "task_id": "import",
            "dataset_arn": dataset.output,
            "role_arn": cfg.role_arn,
            "import_mode": b.import_mode,
            "pool": IMPORT_POOL,
            "inlets": [dataset_asset(cfg, spec.slug)],
            "doc_md": f"{b.import_mode} dataset import job of {spec.slug}, named after the run: a retry "
            f"resumes the job it started instead of paying for another. Waits in the triggerer "
            f"(pool `{IMPORT_POOL}`).",
            **b.aws,
        }
        if spec.slug == "interactions":
            locations = tasks.interactions_locations(b.plan)
            b.go >> locations
            job = operators.PersonalizeCreateDatasetImportJobOperator.partial(**job_args).expand(
                data_location=locations
            )
            tasks.record_imports(cfg.name, b.plan, job.output)
        else:
            location = tasks.snapshot_location(b.plan, spec.slug)
            b.go >> location
            job = operators.PersonalizeCreateDatasetImportJobOperator(data_location=location, **job_args)
    return job


def _datasets_and_filters(b: _Build) -> None:
    imports = [_dataset(b, spec) for spec in b.cfg.dataset_specs()]
    # An UPDATE run may have no new partition: its empty mapped import is skipped, not failed.
    b.imports_done = EmptyOperator(
        task_id="imports_done",
        trigger_rule="none_failed",
        doc_md="Joins the imports. An UPDATE run with no new partition skips its import, not fails.",
    )
    imports >> b.imports_done
    if not b.cfg.filters:
        return
    with TaskGroup(group_id="filters"):
        for name, expression in b.cfg.filters.items():
            created = operators.PersonalizeCreateFilterOperator(
                task_id=name.replace("-", "_"),
                name=b.cfg.resource_name(name),
                dataset_group_arn=b.group.output,
                filter_expression=expression,
                doc_md=f"Creates or adopts filter `{b.cfg.resource_name(name)}`: `{expression}`.",
                **b.aws,
            )
            b.imports_done >> created  # a filter on interactions needs the dataset filled
            b.filters[name] = created


def _baseline(b: _Build) -> None:
    """One popularity-count version per run, trained on the same data; every per-user gate uses it."""
    cfg = b.cfg
    if not cfg.baseline_solutions:
        return
    with TaskGroup(group_id="baseline", tooltip=BASELINE_RECIPE):
        wanted = tasks.baseline_wanted(cfg.name)
        b.go >> wanted
        solution = operators.PersonalizeCreateSolutionOperator(
            task_id="solution",
            name=cfg.resource_name(BASELINE_SOLUTION),
            dataset_group_arn=b.group.output,
            recipe_arn=f"arn:aws:personalize:::recipe/{BASELINE_RECIPE}",
            doc_md=f"Creates or adopts the {BASELINE_RECIPE} solution the gates compare with.",
            **b.aws,
        )
        wanted >> solution
        train = operators.PersonalizeCreateSolutionVersionOperator(
            task_id="train",
            solution_arn=solution.output,
            training_mode="FULL",
            pool=TRAINING_POOL,
            doc_md="Trains the baseline on this run's data (FULL: its offline metrics come from the "
            "same holdout protocol as the candidates'). Named after the run, so a retry resumes it.",
            **b.aws,
        )
        b.imports_done >> train
        b.baseline = tasks.record_baseline(cfg.name, train.output)


def _approval(b: _Build, name: str, decision):
    """Passes the gate's decision on, or waits for a human's answer when the gate asks for one."""
    from personalize_pipeline.approval import GateApprovalOperator

    rules = b.cfg.gate_for(name)
    return GateApprovalOperator(
        task_id="approval",
        pipeline=b.cfg.name,
        decision=decision,
        timeout_hours=rules.approval_timeout_hours,
        db_conn_id=b.cfg.connections.cache_db,
        schema=b.cfg.cache_schema,
        doc_md=f"Approval `{rules.approval}`: a candidate the gate marks for a human waits here (no "
        f"worker held) until Approve or Reject in Required Actions or the REST API; no answer in "
        f"{rules.approval_timeout_hours:g} h rejects it. Otherwise passes the gate's decision on.",
    )


def _serve(b: _Build, name: str, solution_cfg: SolutionConfig, train, decision) -> None:
    """After a promoted gate: the campaign (when enabled), the batch job and the cache swap."""
    cfg = b.cfg
    ok = tasks.promoted(decision.output)
    if solution_cfg.campaign.enabled:
        campaign = operators.PersonalizeCreateCampaignOperator(
            task_id="campaign",
            name=cfg.resource_name(name),
            solution_version_arn=train.output,
            min_provisioned_tps=solution_cfg.campaign.min_provisioned_tps,
            doc_md="Serves the promoted version in real time: creates the campaign, or updates it to "
            "the new version, and waits until the update is active.",
            **b.aws,
        )
        ok >> campaign
    output = solution_cfg.output
    if output is None:
        return
    recipe_type = solution_cfg.recipe_kind
    files = tasks.batch_files(cfg.name, name)
    ok >> files
    job = getattr(operators, recipe_type.job_operator)(
        task_id=output.kind,
        solution_version_arn=train.output,
        input_path=files["input_uri"],
        output_path=files["output_uri"],
        role_arn=cfg.role_arn,
        num_results=output.num_results,
        filter_arn=b.filters[output.filter].output if output.filter else None,
        pool=recipe_type.pool,
        doc_md=f"{output.kind.replace('_', ' ').capitalize()} job of the promoted version: "
        f"{output.num_results} results per line{f', filter {output.filter}' if output.filter else ''}. "
        f"Named after the run, so a retry resumes it; waits in the triggerer (pool `{recipe_type.pool}`).",
        **b.aws,
    )
    load = tasks.load_cache(cfg.name, name, files["output_uri"], files["lines"], job.output, decision.output)
    b.ends.append(load)
    tasks.check_coverage(cfg.name, name, load)


def _solution(b: _Build, name: str, solution_cfg: SolutionConfig) -> None:
    """One solution's branch: selected → solution → training mode → train → gate → serve."""
    cfg = b.cfg
    with TaskGroup(group_id=name, tooltip=solution_cfg.recipe):
        chosen = tasks.selected(name)
        b.go >> chosen
        hyperparameters = {k: str(v) for k, v in solution_cfg.hyperparameters.items()}
        solution = operators.PersonalizeCreateSolutionOperator(
            task_id="solution",
            name=cfg.resource_name(name),
            dataset_group_arn=b.group.output,
            recipe_arn=solution_cfg.recipe_arn,
            solution_config={"algorithmHyperParameters": hyperparameters} if hyperparameters else None,
            doc_md=f"Creates or adopts solution `{cfg.resource_name(name)}` ({solution_cfg.recipe}); an "
            "existing one with another recipe or configuration fails, naming the difference.",
            **b.aws,
        )
        chosen >> solution
        mode_of_run = tasks.training_mode(cfg.name, name, solution.output)
        train = operators.PersonalizeCreateSolutionVersionOperator(
            task_id="train",
            solution_arn=solution.output,
            training_mode=mode_of_run,
            pool=TRAINING_POOL,
            doc_md="Trains a solution version in the mode `training_mode` chose, named after the run: "
            f"a retry resumes the same version. Waits in the triggerer (pool `{TRAINING_POOL}`).",
            **b.aws,
        )
        b.imports_done >> train
        baseline = b.baseline if name in cfg.baseline_solutions else None
        decision = tasks.gate(cfg.name, name, train.output, mode_of_run, baseline=baseline)
        approval = _approval(b, name, decision)
        b.ends.append(approval)
        _serve(b, name, solution_cfg, train, approval)


def _finish(b: _Build, dag: DAG) -> None:
    """Fallback lists, the lookup function, the report, and the watcher that keeps failures failed."""
    with TaskGroup(group_id="fallbacks"):
        fallbacks = [
            tasks.load_fallback.override(task_id=kind)(b.cfg.name, kind) for kind in ("popular", "trending")
        ]
        b.go >> fallbacks
    lookup = tasks.lookup_function(b.cfg.name)
    chain(fallbacks, lookup)
    b.ends >> lookup
    final = tasks.report(b.cfg.name)
    [b.plan, lookup, *b.ends] >> final
    watcher = tasks.run_failed()
    [t for t in dag.tasks if t is not watcher.operator] >> watcher


def build_retrain_dag(cfg: PipelineConfig, mode: str) -> DAG:
    """The FULL (monthly) or UPDATE (weekly) retraining DAG for every configured solution."""
    kind = "retrain_full" if mode == "FULL" else "retrain_update"
    schedule = cfg.schedules.full_retrain if mode == "FULL" else cfg.schedules.update_retrain
    doc = __doc__.replace("{mode_doc}", MODE_DOCS[mode]).replace("{mode}", mode)
    with DAG(
        **dag_args(
            cfg,
            kind,
            doc_md=doc,
            schedule=schedule,
            params=retrain_params(cfg, mode),
            description=f"{mode} retraining of every configured solution, gated, then served from caches.",
        )
    ) as dag:
        build = _Build(cfg, "FULL" if mode == "FULL" else "INCREMENTAL", aws_args(cfg))
        _plan(build)
        _datasets_and_filters(build)
        _baseline(build)
        for name, solution_cfg in cfg.solutions.items():
            _solution(build, name, solution_cfg)
        _finish(build, dag)
    return dag
