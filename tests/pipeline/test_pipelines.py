"""Several pipelines from one project: DAG ids, isolation checks, and a broken file failing alone."""

from __future__ import annotations

import copy

import pytest
import yaml

from personalize_pipeline.config import DEFAULT_PATH, ConfigError

BASE = yaml.safe_load(DEFAULT_PATH.read_text())


def _raw(name: str, **changes) -> dict:
    raw = copy.deepcopy(BASE)
    raw.update(dataset_group=f"{name}-group", cache_schema=f"{name}_cache")
    raw["s3"] = {"bucket": BASE["s3"]["bucket"], "prefix": f"pipelines/{name}"}
    raw["event_sync"]["tracker_name"] = f"{name}-events"
    raw.update(changes)
    return raw


@pytest.fixture
def two(tmp_path, pipelines_dir):
    with pipelines_dir({"alpha": _raw("alpha"), "beta": _raw("beta")}, tmp_path / "pipelines") as folder:
        yield folder


def _bag(tmp_path, names):
    from airflow.dag_processing.dagbag import DagBag

    from personalize_pipeline.config import DEFAULT_DIR

    dags = tmp_path / "dags"
    dags.mkdir(exist_ok=True)
    project_file = DEFAULT_DIR.parents[1] / "dags" / "personalize.py"
    for name in names:
        (dags / f"{name}.py").write_text(project_file.read_text())
    return DagBag(dag_folder=str(dags))


KINDS = [
    "export",
    "retrain_full",
    "retrain_update",
    "event_sync",
    "cleanup",
    "cache_rollback",
    "experiment_report",
]


def test_each_pipeline_file_builds_its_own_prefixed_dags(two, tmp_path):
    bag = _bag(tmp_path, ["alpha", "beta"])
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == sorted(f"{p}_{k}" for p in ("alpha", "beta") for k in KINDS)
    alpha = bag.dags["alpha_retrain_full"]
    assert alpha.get_task("dataset_group").name == "alpha-group"
    assert "pipeline:alpha" in alpha.tags


def test_a_broken_file_fails_only_its_own_pipeline(two, tmp_path):
    broken = _raw("gamma")
    broken["solutions"]["similar-items"]["output"]["num_results"] = 501
    (two / "gamma.yaml").write_text(yaml.safe_dump(broken))
    bag = _bag(tmp_path, ["alpha", "beta", "gamma"])
    assert list(bag.import_errors) == [str(tmp_path / "dags" / "gamma.py")]
    error = bag.import_errors[str(tmp_path / "dags" / "gamma.py")]
    assert str(two / "gamma.yaml") in error
    assert "solutions.similar-items.output.num_results" in error
    assert {d.split("_", 1)[0] for d in bag.dag_ids} == {"alpha", "beta"}


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"dataset_group": "alpha-group"}, "dataset_group: 'alpha-group' is also used by pipeline alpha"),
        (
            {"cache_schema": "alpha_cache"},
            "cache_schema: 'store_db/alpha_cache' is also used by pipeline alpha",
        ),
        ({"s3": {"bucket": BASE["s3"]["bucket"], "prefix": "pipelines"}}, "s3.prefix: s3://"),
        ({"s3": {"bucket": BASE["s3"]["bucket"], "prefix": "pipelines/alpha/x"}}, "overlaps pipeline alpha"),
    ],
)
def test_what_one_pipeline_owns_cannot_be_shared(two, change, key):
    from personalize_pipeline.pipelines import load_pipeline

    (two / "beta.yaml").write_text(yaml.safe_dump(_raw("beta", **change)))
    with pytest.raises(ConfigError) as error:
        load_pipeline("beta")
    assert str(two / "beta.yaml") in str(error.value)
    assert key in str(error.value)
    assert str(two / "alpha.yaml") in str(error.value)


def test_a_shared_bucket_with_separate_prefixes_is_fine(two):
    from personalize_pipeline.pipelines import load_pipeline

    alpha, beta = load_pipeline("alpha"), load_pipeline("beta")
    assert alpha.s3.bucket == beta.s3.bucket
    assert (alpha.name, beta.name) == ("alpha", "beta")


def test_the_name_comes_from_the_file(two):
    from personalize_pipeline.pipelines import load_pipeline

    (two / "beta.yaml").write_text(yaml.safe_dump({**_raw("beta"), "name": "other"}))
    with pytest.raises(ConfigError, match="named after its file"):
        load_pipeline("beta")


def test_rollback_offers_only_the_pipelines_own_caches(two, tmp_path):
    bag = _bag(tmp_path, ["alpha"])
    params = bag.dags["alpha_cache_rollback"].params
    assert "cache_schema" not in params
    schema = params.get_param("cache_name").schema
    assert schema["enum"] == [
        "user_recommendations",
        "similar_items",
        "item_affinity_segments",
        "popular_items",
        "trending_items",
    ]


def test_exports_are_assets_the_retraining_reads(two, tmp_path):
    bag = _bag(tmp_path, ["alpha"])
    export = bag.dags["alpha_export"]
    outlets = {t.task_id: [a.name for a in t.outlets] for t in export.tasks}
    assert outlets == {
        "export_interactions": ["alpha.interactions"],
        "export_items": ["alpha.items"],
        "export_users": ["alpha.users"],
    }
    retrain = bag.dags["alpha_retrain_full"]
    inlets = {t.task_id: [a.name for a in t.inlets] for t in retrain.tasks if t.inlets}
    assert inlets == {
        "interactions.import": ["alpha.interactions"],
        "items.import": ["alpha.items"],
        "users.import": ["alpha.users"],
    }
    assert (
        retrain.get_task("items.import")
        .inlets[0]
        .extra["location"]
        .startswith(f"s3://{BASE['s3']['bucket']}/pipelines/alpha/datasets/items")
    )


def test_poll_seconds_reach_the_operators_as_integers(two, tmp_path):
    """The form's integer is rendered natively: no int → text → int round trip."""
    bag = _bag(tmp_path, ["alpha"])
    train = bag.dags["alpha_retrain_full"].get_task("user-personalization.train")
    train.render_waiter_delay({"params": {"poll_seconds": 7}})
    assert train.waiter_delay == 7 and isinstance(train.waiter_delay, int)


def test_other_fields_keep_text_rendering(two, tmp_path):
    """Only the delay renders natively: a schema's "1.0" and hyperparameters stay strings."""
    raw = _raw("alpha")
    raw["solutions"]["user-personalization"]["hyperparameters"] = {"hidden_dimension": 64, "bptt": "32"}
    (two / "alpha.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    dag = _bag(tmp_path, ["alpha"]).dags["alpha_retrain_full"]
    env, context = dag.get_template_env(), {"params": {}}
    schema = dag.get_task("items.schema")
    assert schema.render_template(schema.schema, context, env)["version"] == "1.0"
    solution = dag.get_task("user-personalization.solution")
    rendered = solution.render_template(solution.solution_config, context, env)
    assert rendered == {"algorithmHyperParameters": {"hidden_dimension": "64", "bptt": "32"}}
