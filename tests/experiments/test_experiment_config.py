"""The experiment keys the report relies on are checked at parse, naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from personalize_pipeline.config import DEFAULT_PATH, ConfigError, parse_config, read_yaml

DEMO = read_yaml(DEFAULT_PATH)


def _with_experiment(**changes) -> dict:
    data = copy.deepcopy(DEMO)
    data["experiments"]["homepage-recs"] |= changes
    return data


def _parse(data: dict):
    return parse_config(data, Path("personalize.yaml"))


def test_a_guardrail_may_not_take_the_primary_metric_s_name():
    data = _with_experiment(guardrails={"primary": {"event_type": "view", "attributed": True}})
    with pytest.raises(ConfigError) as error:
        _parse(data)
    assert "experiments.homepage-recs.guardrails.primary: the name 'primary' is the primary metric's" in str(
        error.value
    )
    renamed = _with_experiment(guardrails={"clicks": {"event_type": "view", "attributed": True}})
    assert list(_parse(renamed).experiments["homepage-recs"].guardrails) == ["clicks"]


def test_the_crossover_share_defaults_to_one_percent_and_is_a_share():
    assert _parse(copy.deepcopy(DEMO)).experiments["homepage-recs"].max_crossover_share == 0.01
    with pytest.raises(ConfigError) as error:
        _parse(_with_experiment(max_crossover_share=1.5))
    assert "experiments.homepage-recs.max_crossover_share" in str(error.value)
