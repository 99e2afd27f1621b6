"""A key given twice in a pipeline file is refused, naming the file, the line and the key's path."""

from __future__ import annotations

import re

import pytest

from personalize_pipeline.config import DEFAULT_PATH, ConfigError, load_config, read_yaml
from personalize_pipeline.pipelines import Claims


def _demo_with(tmp_path, find: str, add: str):
    """The demo's file with ``add`` inserted on the line after the first line containing ``find``."""
    lines = DEFAULT_PATH.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if find in line) + 1
    path = tmp_path / "personalize.yaml"
    path.write_text("".join([*lines[:at], add + "\n", *lines[at:]]))
    return path, at + 1  # the added line's number


def test_a_top_level_key_given_twice_is_refused(tmp_path):
    path, line = _demo_with(tmp_path, "cache_schema:", "cache_schema: other_cache")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: cache_schema: duplicate key (first given on line {line - 1})")


def test_a_nested_key_given_twice_names_its_path(tmp_path):
    path, line = _demo_with(tmp_path, "seed: homepage-recs-2026-11", "    seed: another-seed")
    with pytest.raises(ConfigError, match=re.escape(f"{path}:{line}: experiments.homepage-recs.seed:")):
        read_yaml(path)
    flow = tmp_path / "flow.yaml"
    flow.write_text("variants:\n  - {name: a, weight: 50, weight: 60}\n")
    with pytest.raises(ConfigError, match=re.escape(f"{flow}:2: variants[0].weight: duplicate key")):
        read_yaml(flow)


def test_anchors_and_merge_keys_still_load(tmp_path):
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "base: &base {a: 1, b: 2}\nfirst: {<<: *base, b: 3}\nsecond:\n  <<: *base\n  <<: {c: 4}\n"
    )
    assert read_yaml(path) == {
        "base": {"a": 1, "b": 2},
        "first": {"a": 1, "b": 3},
        "second": {"a": 1, "b": 2, "c": 4},
    }
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert read_yaml(empty) is None
    assert load_config(DEFAULT_PATH).name == "personalize"


def test_another_pipeline_s_duplicate_key_leaves_its_claims_unknown(tmp_path):
    """Reading the other pipelines' claims skips a broken file: its own DAG file reports the error."""
    path, _ = _demo_with(tmp_path, "dataset_group:", "dataset_group: twice")
    assert Claims.read(path) is None
