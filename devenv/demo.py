"""
The main job on one machine: demo data → local AWS endpoint → the end-to-end DAG → a summary.

``python -m devenv.demo [--size demo]``. Uses ``PIPELINE_DATABASE_URL`` when set, else a
private PostgreSQL; uses the local endpoint unless ``--aws`` says to use the ``aws_default``
connection as configured (a real account).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time

from devenv.postgres import LOCAL_DIR, apply_schema, database_url

DAG_ID = "personalize_end_to_end"
BUCKET = "personalize-pipelines-demo"


def _step(label: str, started: float) -> float:
    now = time.monotonic()
    print(f"  {label:<38} {now - started:7.1f} s", flush=True)
    return now


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

            data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="local-aws-"))
            step = os.environ.get("LOCAL_PERSONALIZE_STEP_SECONDS", "0.5")
            endpoint = stack.enter_context(running_endpoint(data_dir, step_seconds=float(step)))
            t = _step(f"local AWS endpoint on {endpoint}", t)

        from devenv.airflow_env import configure, migrate

        # Task logs stay in the log files; the console gets warnings and the summary.
        os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
        configure(LOCAL_DIR / "airflow", db_url=db_url, aws_endpoint_url=endpoint)
        migrate()
        t = _step("Airflow metadata database ready", t)
        if endpoint:
            create_bucket(endpoint)

        dag_run = _run_dag({"poll_seconds": 2} if endpoint else {})
        t = _step(f"DAG {DAG_ID} finished: {dag_run.state}", t)
        _print_task_times(dag_run)
        if str(dag_run.state) != "success":
            print("The run failed; see the task logs above.", file=sys.stderr)
            return 1
        _print_cache_summary(db_url)
    print(f"Total {time.monotonic() - t0:.1f} s")
    return 0


def create_bucket(endpoint: str) -> None:
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
        s3.create_bucket(Bucket=BUCKET)


def _run_dag(conf: dict):
    import logging

    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT

    logging.getLogger("airflow").setLevel(logging.WARNING)
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.get_dag(DAG_ID).test(run_conf=conf)


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


def _print_cache_summary(db_url: str) -> None:
    import psycopg

    with psycopg.connect(db_url) as conn:
        rows, users, items = conn.execute(
            "SELECT count(*), count(DISTINCT user_id), count(DISTINCT item_id) "
            "FROM personalize_cache.user_recommendations"
        ).fetchone()
        print(
            f"Cache personalize_cache.user_recommendations: {rows:,} rows, {users:,} customers, "
            f"{items:,} distinct products"
        )
        load = conn.execute(
            "SELECT load_id, solution_version_arn, batch_job_arn FROM personalize_cache.cache_loads "
            "WHERE cache_name = 'user_recommendations' AND status = 'live'"
        ).fetchone()
        print(f"  live load {load[0]}: version {load[1]}\n  batch job {load[2]}")
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
            "SELECT r.rank, r.item_id, p.category, r.score FROM personalize_cache.user_recommendations r "
            "JOIN store.products p ON p.product_id = r.item_id WHERE r.user_id = %s ORDER BY r.rank LIMIT 10",
            (customer,),
        ).fetchall()
    print(f"Customer {customer} bought: " + ", ".join(f"{cat} ×{n}" for cat, n in bought))
    print("  top recommendations:")
    for rank, item, category, score in recs:
        print(f"    {rank:>2}. {item:<12} {category:<20} score {score:.4f}")


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
