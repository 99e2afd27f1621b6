"""The experiments and serving blocks of the pipeline file are checked at parse, naming the key."""

from __future__ import annotations

import pytest
from api_testdata import config_of, demo_config_data

from personalize_pipeline.config import ConfigError


def _error(data: dict) -> str:
    with pytest.raises(ConfigError) as error:
        config_of(data)
    return str(error.value)


def _with_experiment(**changes) -> dict:
    data = demo_config_data()
    data["experiments"]["homepage-recs"] |= changes
    return data


def test_the_demo_experiment_and_serving_defaults_are_valid():
    config = config_of(demo_config_data())
    assert config.experiments["homepage-recs"].control.name == "popular"
    assert config.serving.db_timeout_seconds == 0.3  # the tests' own value, merged in


def test_a_variant_naming_an_unknown_solution():
    data = _with_experiment(
        variants=[
            {"name": "a", "weight": 1, "source": {"fallback": "popular"}},
            {"name": "b", "weight": 1, "source": {"solution": "no-such-solution"}},
        ]
    )
    assert "experiments.homepage-recs.variants.1.source: no solution named 'no-such-solution'" in _error(data)


def test_a_variant_serving_a_solution_without_a_per_user_cache():
    data = _with_experiment(
        variants=[
            {"name": "a", "weight": 1, "source": {"fallback": "popular"}},
            {"name": "b", "weight": 1, "source": {"solution": "similar-items"}},
        ]
    )
    assert "has no per-user cache to serve" in _error(data)


def test_a_campaign_variant_needs_the_campaign_enabled():
    data = _with_experiment(
        variants=[
            {"name": "a", "weight": 1, "source": {"fallback": "popular"}},
            {"name": "b", "weight": 1, "source": {"campaign": "user-personalization"}},
        ]
    )
    assert "has no campaign (campaign.enabled)" in _error(data)


def test_overlapping_experiments():
    data = demo_config_data()
    second = dict(data["experiments"]["homepage-recs"], seed="second", start="2026-11-10T00:00:00Z", end=None)
    data["experiments"]["second"] = second
    assert "experiments.second: overlaps experiments.homepage-recs" in _error(data)


def test_a_metric_on_an_unknown_event_type():
    data = _with_experiment(primary_metric={"event_type": "wishlist"})
    assert "experiments.homepage-recs.primary_metric.event_type: 'wishlist' is not one of" in _error(data)


def test_variants_need_exactly_one_source_and_unique_names():
    data = _with_experiment(
        variants=[
            {"name": "a", "weight": 1, "source": {"fallback": "popular", "solution": "user-personalization"}},
            {"name": "a", "weight": 1, "source": {"fallback": "trending"}},
        ]
    )
    assert "give exactly one of solution, campaign, fallback" in _error(data)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("db_timeout_seconds", 0),
        ("exposure_buffer_size", 1),
        ("popular_refresh_seconds", 0),
        ("campaign_timeout_seconds", 60),
        ("colour", "red"),
    ],
)
def test_serving_settings_out_of_range(key, value):
    assert f"serving.{key}" in _error(demo_config_data(serving={key: value}))
