"""
The main job on one machine: demo data → local AWS endpoint → the export DAG over every month of
history → the monthly FULL retraining → a summary with the gate's decisions and the cache counts.

``python -m devenv.demo [--size demo]``. Uses ``PIPELINE_DATABASE_URL`` when set, else a
private PostgreSQL; uses the local endpoint unless ``--aws`` says to use the ``aws_default``
connection as configured (a real account).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

from devenv.postgres import LOCAL_DIR, airflow_database_url, apply_schema, database_url
from devenv.scheduled_runs import bundles_parsed_once, interval_infos, run_scheduled

_cpu_at_last_step = [0.0]


def _step(label: str, started: float) -> float:
    """Wall time since ``started`` and CPU time since the last step: a busy machine inflates the first."""
    now = time.monotonic()
    cpu = _cpu_seconds()
    print(f"  {label:<38} {now - started:7.1f} s {cpu - _cpu_at_last_step[0]:7.1f} CPU s", flush=True)
    _cpu_at_last_step[0] = cpu
    return now


def _cpu_seconds() -> float:
    """CPU time of the demo and its child processes (the local AWS endpoint)."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for process in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


# Against the local endpoint: each status is held 0.1 s (as in the tests), so a resource is still
# pending when its operator first looks (it defers) and, mostly, ACTIVE when the trigger first looks:
# no 1 s poll (the form's minimum) per resource. dag.test() runs no executor, so the UI command's
# 10 s hold against a LocalExecutor race is not needed here.
DEMO_STEP_SECONDS = "0.1"
DEMO_POLL_SECONDS = 1


def run(size: str, use_real_aws: bool) -> int:
    t0 = time.monotonic()
    print(f"Personalize Pipelines demo ({size} data)", flush=True)
    db_url = database_url()
    apply_schema(db_url)
    t = _step("PostgreSQL ready", t0)

    from devenv import datagen

    frames = datagen.generate(size)
    datagen.load(db_url, frames)
    t = _step(f"demo data loaded ({sum(len(f) for f in frames.values()):,} rows)", t)

    with contextlib.ExitStack() as stack:
        endpoint = None
        if not use_real_aws:
            from local_aws.testing import running_endpoint

            # The UI command's state dir: its runs find their exports, jobs and versions there.
            step = os.environ.get("LOCAL_PERSONALIZE_STEP_SECONDS", DEMO_STEP_SECONDS)
            endpoint = stack.enter_context(running_endpoint(LOCAL_DIR / "aws", step_seconds=float(step)))
            t = _step(f"local AWS endpoint on {endpoint}", t)

        from devenv.airflow_env import configure, migrate

        # Task logs stay in the log files; the console gets warnings and the summary.
        os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
        configure(
            LOCAL_DIR / "airflow",
            db_url=db_url,
            aws_endpoint_url=endpoint,
            metadata_db_url=airflow_database_url(db_url),
        )
        migrate()
        _leave_deferred_tasks_to_a_triggerer(stack)
        t = _step("Airflow metadata database ready", t)
        from personalize_pipeline.config import load_config

        cfg = load_config()
        if endpoint:
            create_bucket(endpoint, cfg.s3.bucket)
        bag = _dag_bag()
        stack.enter_context(bundles_parsed_once())  # the DAG files do not change during the demo
        data_end = (datagen.END + datagen.pd.Timedelta(seconds=1)).to_pydatetime()
        exported = _backfill_exports(bag, cfg, data_end)
        t = _step(f"personalize_export: {exported} monthly partitions", t)
        retrain = bag.get_dag("personalize_retrain_full")
        last_interval = interval_infos(retrain, cfg.start, data_end)[-1]
        full = run_scheduled(
            retrain, last_interval, run_conf={"poll_seconds": DEMO_POLL_SECONDS} if endpoint else {}
        )
        t = _step(f"personalize_retrain_full finished: {full.state}", t)
        _print_task_times(full)
        if str(full.state) != "success":
            print("The run failed; see the task logs above.", file=sys.stderr)
            return 1
        _print_run_report(full, cfg)
        _print_costs(full, cfg)
        _print_customer_example(db_url, cfg)
        _run_experiment(bag, cfg, db_url, t)
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(
        f"Total {time.monotonic() - t0:.1f} s, {_cpu_seconds():.1f} CPU s; load average {load} (1/5/15 min)"
    )
    return 0


def _leave_deferred_tasks_to_a_triggerer(stack: contextlib.ExitStack) -> None:
    """Trainings, batch jobs and creates then wait together in a triggerer, not one by one inline."""
    from devenv.triggered_runs import deferred_tasks_left_to, running_triggerer

    triggerer = stack.enter_context(running_triggerer(LOCAL_DIR / "airflow" / "logs" / "triggerer.log"))
    stack.enter_context(deferred_tasks_left_to(triggerer))


def _run_experiment(bag, cfg, db_url: str, started: float) -> None:
    """The closed loop on the fresh caches: API, simulated customers, the report's verdict."""
    from devenv.experiment_loop import run_experiment_loop

    message = run_experiment_loop(bag, cfg, db_url)
    if message:
        print(message)
        _step("experiment served, simulated and reported", started)


def create_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    from devenv.airflow_env import LOCAL_AWS_KEY, LOCAL_AWS_SECRET

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=LOCAL_AWS_KEY,
        aws_secret_access_key=LOCAL_AWS_SECRET,
    )
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)


def _dag_bag():
    import logging

    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT

    logging.getLogger("airflow").setLevel(logging.WARNING)
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag


def _backfill_exports(bag, cfg, data_end) -> int:
    """One export run per interval of the demo data's history, each the run the scheduler would make."""
    dag = bag.get_dag("personalize_export")
    infos = interval_infos(dag, cfg.start, data_end)
    for info in infos:
        run = run_scheduled(dag, info)
        if str(run.state) != "success":
            started = info.logical_date
            raise RuntimeError(f"personalize_export failed for the interval starting {started:%Y-%m-%d}")
    return len(infos)


def _print_task_times(dag_run) -> None:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id)
            .all()
        )
        print("  time per task:")
        for ti in sorted(tis, key=lambda ti: ti.start_date or ti.end_date or dag_run.start_date):
            took = (ti.end_date - ti.start_date).total_seconds() if ti.start_date and ti.end_date else 0.0
            print(f"    {ti.task_id:<32} {str(ti.state):<10} {took:7.1f} s")


def _print_run_report(dag_run, cfg) -> None:
    """What the run's own report task found: the gate's decisions and every cache's live load."""
    from personalize_pipeline.notifications import gate_message

    report = dag_run.get_task_instance("report").xcom_pull(task_ids="report")
    print(gate_message(report["decisions"]))
    print(f"Caches in {cfg.cache_schema} (live load):")
    for cache in report["caches"]:
        print(
            f"  {cache['cache_name']:<24} {cache['row_count']:>9,} rows {cache['key_count'] or 0:>7,} keys"
            f"   load {cache['load_id']}"
        )


STORE_TEAM_FIGURES = {"batch only": 7.50, "always-on campaign": 432.00}  # USD per month, their playbook


def _print_costs(dag_run, cfg) -> None:
    """The run's estimated AWS cost, and a store-size month next to the store team's own figures."""
    from personalize_pipeline.costs import CostEstimate, Usage, store_scenario

    cost = dag_run.get_task_instance("report").xcom_pull(task_ids="report").get("cost")
    pricing = cfg.pricing
    print(f"Estimated AWS cost of this run (prices {pricing.region}, {pricing.as_of}):")
    if cost:
        print("\n".join(CostEstimate(Usage(**cost["usage"]), cost["lines"]).summary()))
    else:
        print("  not available (see the report task's log)")
    print("A store-size month (1.97M interactions, 180,484 customers, 4,182 products;")
    print("monthly FULL + weekly UPDATE; assumptions in personalize_pipeline.costs.Scenario):")
    for label, tps in (("batch only", 0), ("always-on campaign", 1)):
        month = store_scenario(pricing, campaign_tps=tps)
        print(
            f"  {label + ' (1 TPS)' * bool(tps):<30} ${month.total:>8,.2f}/month"
            f"   store team: ${STORE_TEAM_FIGURES[label]:,.2f}/month"
        )


def _print_customer_example(db_url: str, cfg) -> None:
    import psycopg
    from psycopg import sql

    schema = sql.Identifier(cfg.cache_schema)
    with psycopg.connect(db_url) as conn:
        customer = conn.execute(
            "SELECT o.customer_id FROM store.orders o GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        ).fetchone()[0]
        bought = conn.execute(
            "SELECT p.category, count(*) FROM store.orders o JOIN store.order_items i USING (order_id) "
            "JOIN store.products p USING (product_id) WHERE o.customer_id = %s GROUP BY 1 "
            "ORDER BY 2 DESC, 1",
            (customer,),
        ).fetchall()
        recs = conn.execute(
            sql.SQL(
                "SELECT r.rank, r.item_id, p.category, r.score, r.source "
                "FROM {}.recommendations_for(%s, 10) r "
                "JOIN store.products p ON p.product_id = r.item_id ORDER BY r.rank"
            ).format(schema),
            (customer,),
        ).fetchall()
        newcomer = conn.execute(
            sql.SQL("SELECT count(*), min(source) FROM {}.recommendations_for(%s, 10)").format(schema),
            ("new-customer",),
        ).fetchone()
    print(f"Customer {customer} bought: " + ", ".join(f"{cat} ×{n}" for cat, n in bought))
    print("  top recommendations:")
    for rank, item, category, score, source in recs:
        print(f"    {rank:>2}. {item:<12} {category:<20} score {score or 0:.4f} ({source})")
    print(f"A customer with no history gets {newcomer[0]} items from the {newcomer[1]} fallback.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--size", choices=["tiny", "demo", "store"], default="demo")
    parser.add_argument(
        "--aws",
        action="store_true",
        help="use the aws_default connection from the environment instead of the local endpoint",
    )
    args = parser.parse_args(argv)
    return run(args.size, args.aws)


if __name__ == "__main__":
    sys.exit(main())
