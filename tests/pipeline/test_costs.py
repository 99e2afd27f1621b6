"""Cost estimates against numbers computed by hand, and their record in ``run_costs``."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from personalize_pipeline.config import PricingConfig
from personalize_pipeline.costs import GB, Scenario, Usage, estimate, store_scenario, tps_hours

PRICES = PricingConfig(
    ingestion_per_gb=0.05,
    training_per_hour=0.24,
    batch_recommendations_per_1000=0.067,
    batch_segment_users_per_1000=0.016,
    tps_hour=0.20,
)


def test_each_billed_item_is_priced_by_its_unit():
    usage = Usage(
        gb_ingested=2.0,
        training_hours=3.5,
        batch_recommendations=150_000,
        segment_users=40_000,
        tps_hours=720,
    )
    cost = estimate(usage, PRICES)
    assert cost.lines == pytest.approx(
        {
            "ingestion": 0.10,  # 2 GB x $0.05
            "training": 0.84,  # 3.5 h x $0.24
            "batch_recommendations": 10.05,  # 150 x $0.067
            "batch_segments": 0.64,  # 40 x $0.016
            "campaigns": 144.0,  # 720 TPS-hours x $0.20
        }
    )
    assert cost.total == pytest.approx(155.63)


def test_prices_are_the_configured_ones():
    cheaper = PRICES.model_copy(update={"training_per_hour": 0.10})
    assert estimate(Usage(training_hours=10), cheaper).total == pytest.approx(1.0)


def test_a_campaign_bills_the_hours_of_the_period_it_existed():
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    before = datetime(2026, 9, 1, tzinfo=UTC)
    assert tps_hours(1, before, None, start, end) == 744  # all of October
    assert tps_hours(2, datetime(2026, 10, 31, 12, tzinfo=UTC), None, start, end) == 24  # 12 h x 2 TPS
    assert tps_hours(1, before, datetime(2026, 10, 2, tzinfo=UTC), start, end) == 24  # deleted on day 2
    assert tps_hours(1, datetime(2026, 11, 5, tzinfo=UTC), None, start, end) == 0  # created afterwards


def test_store_scenario_batch_only_month():
    # One FULL run and 52/12 UPDATE runs. FULL imports 1.97M x 40 B of interactions plus the catalogue
    # (180,484 x 24 B + 4,182 x 48 B = 4,532,352 B); UPDATE only the catalogue.
    month = store_scenario(PRICES)
    updates = 52 / 12
    assert month.usage.gb_ingested == pytest.approx((83_332_352 + updates * 4_532_352) / GB)
    assert month.usage.training_hours == pytest.approx(3 + updates * 2.25)  # 3 x 1 h; 0.25 h + 2 x 1 h
    assert month.usage.batch_recommendations == pytest.approx(184_666 * (1 + updates))
    assert month.usage.segment_users == pytest.approx(418_200 * (1 + updates))
    assert month.lines["training"] == pytest.approx(3.06)
    assert month.lines["batch_recommendations"] == pytest.approx(65.9873, abs=1e-4)
    assert month.lines["batch_segments"] == pytest.approx(35.6864, abs=1e-4)
    assert month.lines["campaigns"] == 0
    assert month.total == pytest.approx(104.7385, abs=1e-4)


def test_store_scenario_with_an_always_on_campaign():
    month = store_scenario(PRICES, campaign_tps=1)
    assert month.usage.tps_hours == 730
    assert month.lines["campaigns"] == pytest.approx(146.0)
    # The customers come from the campaign: only the similar-items lines are batch recommendations.
    assert month.usage.batch_recommendations == pytest.approx(4_182 * (1 + 52 / 12))
    assert month.total == pytest.approx(186.2456, abs=1e-4)


def test_scenario_sizes_are_parameters():
    small = Scenario(interactions=0, customers=1000, products=0, segment_size=0)
    assert small.run(full=True).batch_recommendations == 1000
    assert small.run(full=True).gb_ingested == pytest.approx(24_000 / GB)


def test_run_costs_are_recorded_once_per_run_and_summed_per_month(pipeline_env):
    from personalize_pipeline.config import load_config
    from personalize_pipeline.run_costs import monthly_totals, record

    cfg = load_config().model_copy(update={"cache_schema": "cost_tests"})
    url = pipeline_env["database_url"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS cost_tests CASCADE")
    first = estimate(Usage(training_hours=10), PRICES)
    record(cfg, "personalize_retrain_full", "run-1", None, None, first)
    record(cfg, "personalize_retrain_full", "run-1", None, None, first)  # the report reran
    record(cfg, "personalize_retrain_update", "run-2", None, None, estimate(Usage(gb_ingested=20), PRICES))
    with psycopg.connect(url) as conn:
        (month,) = monthly_totals(conn, "cost_tests")
        assert monthly_totals(conn, "no_such_schema") == []
    assert month["runs"] == 2
    assert month["total_usd"] == pytest.approx(2.4 + 1.0)
    assert month["training_hours"] == 10 and month["gb_ingested"] == 20


def test_a_batch_job_loaded_twice_is_billed_once(pipeline_env):
    """A rerun of a run adopts its batch jobs and loads their output again: nothing new is billed."""
    from personalize_pipeline.config import load_config
    from personalize_pipeline.run_costs import _batch_output
    from personalize_pipeline.sql_files import compose

    cfg = load_config().model_copy(update={"cache_schema": "cost_loads_tests"})
    url = pipeline_env["database_url"]
    loads = [  # (batch job, kind, rows, keys): job-a's output was loaded by the run and by its rerun
        ("job-a", "USER_PERSONALIZATION", 2_500, 100),
        ("job-a", "USER_PERSONALIZATION", 2_500, 100),
        ("job-b", "RELATED_ITEMS", 400, 20),
        ("job-c", "USER_SEGMENTATION", 500, 5),
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS cost_loads_tests CASCADE")
        conn.execute(compose("cache/setup.sql", schema=cfg.cache_schema))
        for job, kind, rows, keys in loads:
            conn.execute(
                "INSERT INTO cost_loads_tests.cache_loads "
                "(cache_name, snapshot_table, status, run_id, batch_job_arn, kind, row_count, key_count) "
                "VALUES ('c', 't', 'live', 'run-1', %s, %s, %s, %s)",
                (job, kind, rows, keys),
            )
    assert _batch_output(cfg, "run-1") == (100 + 20, 500)
    assert _batch_output(cfg, "run-2") == (0, 0)
