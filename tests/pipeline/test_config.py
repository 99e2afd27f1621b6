"""The configuration file: the shipped one is valid, and each mistake is named by its key."""

from __future__ import annotations

import copy

import pytest
import yaml

from personalize_pipeline.config import DEFAULT_PATH, ConfigError, load_config, parse_config


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(DEFAULT_PATH.read_text())


def _error(data: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, DEFAULT_PATH)
    return str(caught.value)


def test_shipped_configuration_is_valid():
    config = load_config(DEFAULT_PATH)
    assert [s.dataset_type for s in config.dataset_specs()] == ["INTERACTIONS", "ITEMS", "USERS"]
    assert config.dataset_specs()[0].event_types == {"view", "add_to_cart", "purchase"}
    assert (
        config.s3.uri("datasets", "interactions/")
        == "s3://personalize-pipelines-demo/personalize/datasets/interactions/"
    )
    up = config.solutions["user-personalization"]
    assert (up.training_mode("UPDATE"), config.solutions["similar-items"].training_mode("UPDATE")) == (
        "UPDATE",
        "FULL",
    )
    assert config.gate_for("item-affinity").metric == "hit_at_k"
    assert config.gate_for("user-personalization") == config.quality_gate


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (
            lambda d: d["solutions"]["similar-items"]["output"].update(num_results=900),
            "solutions.similar-items.output.num_results",
            "less than or equal to 500",
        ),
        (
            lambda d: d["solutions"]["user-personalization"].update(recipe="aws-magic"),
            "solutions.user-personalization.recipe",
            "unsupported recipe",
        ),
        (lambda d: d["s3"].update(buckett="x"), "s3.buckett", "unknown key"),
        (lambda d: d["schedules"].update(export="every tuesday"), "schedules.export", "cron"),
        (lambda d: d["quality_gate"].update(metric="accuracy"), "quality_gate.metric", "unknown metric"),
        (lambda d: d.pop("role_arn"), "role_arn", "Field required"),
        (
            lambda d: d["datasets"]["interactions"].update(query="extract/nope.sql"),
            "datasets.interactions.query",
            "no SQL file",
        ),
        (
            lambda d: d["datasets"]["interactions"]["fields"].pop(3),
            "datasets",
            "interactions.fields lacks the required field(s) ['TIMESTAMP']",
        ),
        (
            lambda d: d["solutions"]["user-personalization"]["output"].update(filter="nope"),
            "solutions.user-personalization.output.filter",
            "no filter named 'nope'",
        ),
        (
            lambda d: d["solutions"]["item-affinity"]["output"].update(kind="batch_inference"),
            "solutions.item-affinity",
            "served by batch_segment",
        ),
        (
            lambda d: d["fallbacks"]["popular"].update(cache_table="similar_items"),
            "fallbacks.popular.cache_table",
            "already used by solutions.similar-items.output.cache_table",
        ),
    ],
)
def test_each_mistake_names_its_key(raw, change, key, words):
    data = copy.deepcopy(raw)
    change(data)
    message = _error(data)
    assert str(DEFAULT_PATH) in message
    assert f"  {key}: " in message or f"{key}" in message.split(":", 1)[1]
    assert words in message


def test_unreadable_file_is_named(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("solutions: [unclosed")
    with pytest.raises(ConfigError, match=f"{path}: not valid YAML"):
        load_config(path)
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "missing.yaml")


def test_approval_baseline_and_monitoring_have_defaults_and_are_checked(raw):
    config = load_config(DEFAULT_PATH)
    gate = config.quality_gate
    assert (gate.approval, gate.approval_timeout_hours, gate.baseline.enabled, gate.baseline.margin) == (
        "never",
        24,
        True,
        0.0,
    )
    assert config.monitoring.volume_factor == 3.0
    assert config.baseline_solutions == ["user-personalization"]  # per-user recipes only
    for change, key, words in (
        (lambda d: d["quality_gate"].update(approval="sometimes"), "quality_gate.approval", "never"),
        (lambda d: d["quality_gate"].update(baseline={"margin": -1}), "quality_gate.baseline.margin", "0"),
        (lambda d: d.update(monitoring={"volume_factor": 0.5}), "monitoring.volume_factor", "greater than 1"),
        (lambda d: d.update(monitoring={"volume": 2}), "monitoring.volume", "unknown key"),
    ):
        data = copy.deepcopy(raw)
        change(data)
        message = _error(data)
        assert f"  {key}: " in message and words in message, message


def test_the_popularity_baseline_takes_one_of_the_groups_ten_solutions(raw):
    data = copy.deepcopy(raw)
    recipe = {"recipe": "aws-popularity-count"}
    data["solutions"] = {"user-personalization": raw["solutions"]["user-personalization"]}
    data["solutions"].update({f"s{i}": recipe for i in range(9)})
    assert "at most 10 solutions (one of them the popularity baseline)" in _error(data)
    data["quality_gate"]["baseline"] = {"enabled": False}
    parse_config(data, DEFAULT_PATH)
