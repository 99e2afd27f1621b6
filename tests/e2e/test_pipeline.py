"""
The production DAGs end to end with dag.test(): a three-month export backfill, the monthly FULL
retraining with its gate and every cache, a forced regression the gate stops, the weekly UPDATE
run, a dry run, and a run whose exports are missing. Local endpoint + real PostgreSQL.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import psycopg
import pytest
import yaml

pytestmark = pytest.mark.e2e

GROUP = "pipeline-e2e"
PREFIX = "e2e-pipeline"
MONTHS = [datetime(2026, m, 1, tzinfo=UTC) for m in (8, 9, 10)]
# A run triggered at (logical date) the first of a month covers the month before it.
RUN_AT = {month: month.replace(month=month.month + 1) for month in MONTHS}
FAST = {"poll_seconds": 1}


@pytest.fixture(scope="module")
def pipeline(pipeline_env, tmp_path_factory):
    """Demo data, and a configuration whose history starts three months before the data ends."""
    from devenv import datagen
    from personalize_pipeline.config import DEFAULT_PATH, PIPELINES_DIR_ENV

    datagen.load(pipeline_env["database_url"], datagen.generate("demo"))
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw.update(dataset_group=GROUP, start_date="2026-08-01", poll_seconds=1)
    raw["s3"] = {"bucket": pipeline_env["bucket"], "prefix": PREFIX}
    raw["retries"] = {"count": 1, "delay_seconds": 1, "max_delay_minutes": 1}
    raw["event_sync"]["tracker_name"] = f"{GROUP}-events"
    path = tmp_path_factory.mktemp("config") / "personalize.yaml"
    path.write_text(yaml.safe_dump(raw))
    previous = os.environ.get(PIPELINES_DIR_ENV)
    os.environ[PIPELINES_DIR_ENV] = str(path.parent)
    yield {**pipeline_env, "config_path": path}
    if previous is None:
        os.environ.pop(PIPELINES_DIR_ENV, None)
    else:
        os.environ[PIPELINES_DIR_ENV] = previous


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag(dag_id)


def _states(run) -> dict[str, str]:
    return {
        ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): str(ti.state)
        for ti in run.get_task_instances()
    }


def _import_jobs(personalize) -> set[str]:
    return {
        j["datasetImportJobArn"]
        for j in personalize.list_dataset_import_jobs(maxResults=100)["datasetImportJobs"]
    }


def _query(url: str, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def backfill(pipeline):
    dag = _dag("personalize_export")
    return [dag.test(logical_date=RUN_AT[month]) for month in MONTHS]


def test_backfill_writes_one_validated_partition_per_month(backfill, pipeline, aws_clients):
    assert [str(run.state) for run in backfill] == ["success"] * 3
    s3 = aws_clients("s3")
    listed = s3.list_objects_v2(Bucket=pipeline["bucket"], Prefix=f"{PREFIX}/datasets/interactions/")
    keys = sorted(o["Key"] for o in listed["Contents"])
    assert keys == [f"{PREFIX}/datasets/interactions/2026-{m:02d}-01T0000.csv" for m in (8, 9, 10)]
    for month, key in zip(MONTHS, keys, strict=True):
        end = month.replace(month=month.month + 1)
        expected = _query(
            pipeline["database_url"],
            "SELECT (SELECT count(*) FROM store.events WHERE occurred_at >= %(s)s AND occurred_at < %(e)s)"
            " + (SELECT count(*) FROM store.orders o JOIN store.order_items i USING (order_id)"
            "    WHERE o.ordered_at >= %(s)s AND o.ordered_at < %(e)s)",
            {"s": month, "e": end},
        )[0][0]
        body = s3.get_object(Bucket=pipeline["bucket"], Key=key)["Body"].read().decode()
        assert body.count("\n") - 1 == expected > 0
        report = yaml.safe_load(
            s3.get_object(
                Bucket=pipeline["bucket"], Key=key.replace("/datasets/", "/reports/")[:-4] + ".json"
            )["Body"].read()
        )
        assert report["ok"] and report["rows"] == expected


def test_rerun_of_an_interval_overwrites_its_partition(backfill, pipeline, aws_clients):
    s3 = aws_clients("s3")
    key = f"{PREFIX}/datasets/interactions/2026-09-01T0000.csv"
    before = s3.get_object(Bucket=pipeline["bucket"], Key=key)["Body"].read()
    with psycopg.connect(pipeline["database_url"]) as conn:
        conn.execute(
            "INSERT INTO store.events SELECT max(event_id) + 1, min(customer_id), min(product_id), 'view', "
            "timestamptz '2026-09-15 12:00+00' FROM store.events"
        )
    rerun = _dag("personalize_export").test(logical_date=RUN_AT[MONTHS[1]])
    assert str(rerun.state) == "success"
    after = s3.get_object(Bucket=pipeline["bucket"], Key=key)["Body"].read()
    assert after.count(b"\n") == before.count(b"\n") + 1
    listed = s3.list_objects_v2(Bucket=pipeline["bucket"], Prefix=f"{PREFIX}/datasets/interactions/")
    assert listed["KeyCount"] == 3


@pytest.fixture(scope="module")
def full_run(backfill, pipeline, aws_clients):
    personalize = aws_clients("personalize")
    before = _import_jobs(personalize)
    run = _dag("personalize_retrain_full").test(logical_date=RUN_AT[MONTHS[2]], run_conf=FAST)
    return run, _import_jobs(personalize) - before


def test_full_retrain_succeeds_and_promotes_first_versions(full_run, pipeline):
    run, new_imports = full_run
    states = _states(run)
    assert str(run.state) == "success", {k: v for k, v in states.items() if v != "success"}
    assert len(new_imports) == 3  # the interactions folder, the items and users snapshots
    recorded = _query(
        pipeline["database_url"],
        "SELECT dataset, import_mode, import_job_arn FROM personalize_cache.dataset_imports "
        "WHERE run_id = %s ORDER BY partition_label",
        (run.run_id,),
    )
    # Each month's partition is recorded against the one interactions job: the next UPDATE skips them.
    assert len(recorded) == len(MONTHS)
    assert {(dataset, mode) for dataset, mode, _ in recorded} == {("interactions", "FULL")}
    assert len({arn for _, _, arn in recorded}) == 1 and recorded[0][2] in new_imports
    decisions = _query(
        pipeline["database_url"],
        "SELECT solution, decision FROM personalize_cache.solution_metrics WHERE run_id = %s ORDER BY 1",
        (run.run_id,),
    )
    assert decisions == [
        ("item-affinity", "promoted"),
        ("similar-items", "promoted"),
        ("user-personalization", "promoted"),
    ]


def test_full_retrain_fills_every_cache(full_run, pipeline):
    run, _ = full_run
    url = pipeline["database_url"]
    customers_with_history = _query(
        url,
        "SELECT count(*) FROM (SELECT customer_id FROM store.events WHERE occurred_at < %(e)s "
        "UNION SELECT customer_id FROM store.orders WHERE ordered_at < %(e)s) c",
        {"e": datetime(2026, 11, 1, tzinfo=UTC)},
    )[0][0]
    products = _query(url, "SELECT count(*) FROM store.products")[0][0]
    live = {
        name: (rows, keys, run_id)
        for name, rows, keys, run_id in _query(
            url,
            "SELECT cache_name, row_count, key_count, run_id FROM personalize_cache.cache_loads "
            "WHERE status = 'live'",
        )
    }
    assert set(live) == {
        "user_recommendations",
        "similar_items",
        "item_affinity_segments",
        "popular_items",
        "trending_items",
    }
    assert all(run_id == run.run_id for _, _, run_id in live.values())
    assert live["user_recommendations"][1] == customers_with_history
    assert live["user_recommendations"][0] == customers_with_history * 25
    assert 0 < live["similar_items"][1] <= products
    assert 0 < live["item_affinity_segments"][1] <= products
    assert live["popular_items"][0] == 100
    view_rows = _query(url, "SELECT count(*) FROM personalize_cache.user_recommendations")[0][0]
    assert view_rows == live["user_recommendations"][0]
    unknown_items = _query(
        url,
        "SELECT count(*) FROM personalize_cache.user_recommendations r "
        "LEFT JOIN store.products p ON p.product_id = r.item_id WHERE p.product_id IS NULL",
    )[0][0]
    assert unknown_items == 0
    lineage = _query(
        url,
        "SELECT solution_version_arn, batch_job_arn, data_interval_start, data_interval_end "
        "FROM personalize_cache.cache_loads WHERE cache_name = 'user_recommendations' AND status = 'live'",
    )[0]
    assert ":solution/pipeline-e2e-user-personalization/" in lineage[0]
    assert ":batch-inference-job/" in lineage[1]
    assert (lineage[2], lineage[3]) == (MONTHS[2], datetime(2026, 11, 1, tzinfo=UTC))


def test_customer_recommendations_leave_out_what_they_bought(full_run, pipeline, aws_clients):
    url = pipeline["database_url"]
    (job_arn,) = _query(
        url,
        "SELECT batch_job_arn FROM personalize_cache.cache_loads "
        "WHERE cache_name = 'user_recommendations' AND status = 'live'",
    )[0]
    job = aws_clients("personalize").describe_batch_inference_job(batchInferenceJobArn=job_arn)
    assert job["batchInferenceJob"]["filterArn"].endswith("exclude-purchased")
    bought_and_recommended = _query(
        url,
        "SELECT count(*) FROM personalize_cache.user_recommendations r "
        "JOIN store.orders o ON o.customer_id = r.user_id AND o.ordered_at >= %(s)s AND o.ordered_at < %(e)s "
        "JOIN store.order_items oi ON oi.order_id = o.order_id AND oi.product_id = r.item_id",
        {"s": MONTHS[0], "e": datetime(2026, 11, 1, tzinfo=UTC)},  # the purchases the service was given
    )[0][0]
    assert bought_and_recommended == 0


def test_unknown_customer_gets_the_popular_fallback(full_run, pipeline):
    url = pipeline["database_url"]
    known = _query(url, "SELECT user_id FROM personalize_cache.user_recommendations LIMIT 1")[0][0]
    personal = _query(url, "SELECT source FROM personalize_cache.recommendations_for(%s, 10)", (known,))
    fallback = _query(
        url, "SELECT item_id, source FROM personalize_cache.recommendations_for('nobody', 10) ORDER BY rank"
    )
    popular = _query(url, "SELECT item_id FROM personalize_cache.popular_items ORDER BY rank LIMIT 10")
    assert {s for (s,) in personal} == {"personalized"} and len(personal) == 10
    assert [i for i, _ in fallback] == [i for (i,) in popular]
    assert {s for _, s in fallback} == {"popular"}


@pytest.fixture(scope="module")
def regression_run(full_run, pipeline):
    """The live user-personalization version's stored metrics are made far better than any retrain."""
    url = pipeline["database_url"]
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE personalize_cache.solution_metrics SET metrics = metrics || "
            "'{\"normalized_discounted_cumulative_gain_at_10\": 0.99}'::jsonb "
            "WHERE solution = 'user-personalization' AND decision = 'promoted'"
        )
    live_before = _query(
        url,
        "SELECT load_id FROM personalize_cache.cache_loads "
        "WHERE cache_name = 'user_recommendations' AND status = 'live'",
    )
    run = _dag("personalize_retrain_full").test(
        logical_date=RUN_AT[MONTHS[2]], run_conf={**FAST, "solutions": ["user-personalization"]}
    )
    return run, live_before


def test_gate_stops_a_regression(regression_run, pipeline):
    run, live_before = regression_run
    states = _states(run)
    assert str(run.state) == "success"
    assert states["user-personalization.gate"] == "success"
    assert states["user-personalization.promoted"] == "success"  # it decided: no
    assert states["user-personalization.batch_inference"] == "skipped"
    assert states["user-personalization.load_cache"] == "skipped"
    assert states["similar-items.train"] == "skipped"  # not selected in the form
    url = pipeline["database_url"]
    live_after = _query(
        url,
        "SELECT load_id FROM personalize_cache.cache_loads "
        "WHERE cache_name = 'user_recommendations' AND status = 'live'",
    )
    assert live_after == live_before
    decision, reasons = _query(
        url,
        "SELECT decision, reasons::text FROM personalize_cache.solution_metrics WHERE run_id = %s",
        (run.run_id,),
    )[0]
    assert decision == "rejected"
    assert "0.99" in reasons


def test_weekly_update_trains_with_update_where_the_recipe_allows(regression_run, pipeline, aws_clients):
    personalize = aws_clients("personalize")
    run = _dag("personalize_retrain_update").test(
        logical_date=datetime(2026, 10, 25, tzinfo=UTC), run_conf={**FAST, "skip_gate": True}
    )
    states = _states(run)
    assert str(run.state) == "success", {k: v for k, v in states.items() if v != "success"}
    modes = {}
    for name in ("user-personalization", "similar-items"):
        arn = run.get_task_instance(f"{name}.train").xcom_pull(task_ids=f"{name}.train")
        modes[name] = personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"][
            "trainingMode"
        ]
    assert modes == {"user-personalization": "UPDATE", "similar-items": "FULL"}
    # Event sync is on in the configuration: interactions are not imported again.
    assert states["interactions.import"] == "skipped"


def _cache_schema_state(url: str) -> dict[str, object]:
    """Every table's rows (caches, snapshots, cache_loads, gate rows, dataset_imports), every view's
    definition and every function's, in the pipeline's cache schema."""
    with psycopg.connect(url) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'personalize_cache' AND table_type = 'BASE TABLE'"
            )
        ]
        state: dict[str, object] = {
            f"table {name}": conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                f'FROM personalize_cache."{name}" t'
            ).fetchone()
            for name in tables
        }
        for name, definition in conn.execute(
            "SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = 'personalize_cache' AND c.relkind = 'v'"
        ):
            state[f"view {name}"] = definition
        for name, definition in conn.execute(
            "SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'personalize_cache'"
        ):
            state[f"function {name}"] = definition
    assert {"table cache_loads", "table solution_metrics", "table dataset_imports"} <= set(state)
    assert {"view user_recommendations", "view popular_items", "view trending_items"} <= set(state)
    return state


def _listed(personalize, operation: str, key: str, **scope) -> list[dict]:
    pages = personalize.get_paginator(operation).paginate(**scope)
    return [summary for page in pages for summary in page[key]]


def _personalize_state(personalize) -> dict[str, object]:
    """Every resource of the pipeline's dataset group, and every group's ARN, as the service lists them."""
    groups = _listed(personalize, "list_dataset_groups", "datasetGroups")
    (group,) = [g["datasetGroupArn"] for g in groups if g["name"] == GROUP]
    by_group = {"datasetGroupArn": group}
    datasets = _listed(personalize, "list_datasets", "datasets", **by_group)
    solutions = _listed(personalize, "list_solutions", "solutions", **by_group)
    versions = [
        v
        for s in solutions
        for v in _listed(
            personalize, "list_solution_versions", "solutionVersions", solutionArn=s["solutionArn"]
        )
    ]
    by_version = [{"solutionVersionArn": v["solutionVersionArn"]} for v in versions]
    state = {
        "groups": sorted(g["datasetGroupArn"] for g in groups),
        "datasets": datasets,
        "imports": [
            j
            for d in datasets
            for j in _listed(
                personalize, "list_dataset_import_jobs", "datasetImportJobs", datasetArn=d["datasetArn"]
            )
        ],
        "solutions": solutions,
        "versions": versions,
        "filters": _listed(personalize, "list_filters", "Filters", **by_group),
        "trackers": _listed(personalize, "list_event_trackers", "eventTrackers", **by_group),
        "campaigns": [
            c
            for s in solutions
            for c in _listed(personalize, "list_campaigns", "campaigns", solutionArn=s["solutionArn"])
        ],
        "batch inference": [
            j
            for v in by_version
            for j in _listed(personalize, "list_batch_inference_jobs", "batchInferenceJobs", **v)
        ],
        "batch segment": [
            j
            for v in by_version
            for j in _listed(personalize, "list_batch_segment_jobs", "batchSegmentJobs", **v)
        ],
    }
    assert state["imports"] and state["versions"] and state["batch inference"] and state["batch segment"]
    return state


def _s3_state(s3, bucket: str) -> dict[str, str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{PREFIX}/")
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


def _world(pipeline, aws_clients) -> dict[str, object]:
    return {
        "cache schema": _cache_schema_state(pipeline["database_url"]),
        "personalize": _personalize_state(aws_clients("personalize")),
        "s3": _s3_state(aws_clients("s3"), pipeline["bucket"]),
    }


def test_dry_run_changes_nothing(regression_run, pipeline, aws_clients):
    personalize = aws_clients("personalize")
    before = _import_jobs(personalize)
    world = _world(pipeline, aws_clients)
    dag = _dag("personalize_retrain_full")
    run = dag.test(logical_date=RUN_AT[MONTHS[2]], run_conf={**FAST, "dry_run": True})
    states = _states(run)
    assert str(run.state) == "success"
    assert states["plan"] == "success"
    assert states["user-personalization.train"] == "skipped"
    assert _import_jobs(personalize) == before
    after = _world(pipeline, aws_clients)
    for part in world:  # one assertion per part: a failure names what changed
        assert after[part] == world[part], part


def test_missing_exports_fail_before_any_import(regression_run, pipeline, aws_clients):
    personalize = aws_clients("personalize")
    before = _import_jobs(personalize)
    run = _dag("personalize_retrain_full").test(logical_date=datetime(2026, 12, 1, tzinfo=UTC), run_conf=FAST)
    states = _states(run)
    assert str(run.state) == "failed"
    assert states["plan"] == "failed"
    assert _import_jobs(personalize) == before
