"""A section whose database fails shows the error in its place; the rest of the page still renders."""

from __future__ import annotations

import os


def test_an_unreachable_cache_database_is_a_message_per_section(airflow_db, database_url):
    from personalize_pipeline.config import ConnectionsConfig, load_config
    from personalize_ui.app import _environment
    from personalize_ui.sections import pipeline_page

    os.environ["AIRFLOW_CONN_BROKEN_DB"] = "postgresql://nobody:wrong@127.0.0.1:9/nothing"
    try:
        cfg = load_config()
        cfg = cfg.model_copy(update={"connections": ConnectionsConfig(cache_db="broken_db")})
        sections = pipeline_page(cfg)
        html = (
            _environment()
            .get_template("page.html")
            .render(pipelines=[{"name": cfg.name, "cfg": cfg, "sections": sections}], user="tester")
        )
    finally:
        del os.environ["AIRFLOW_CONN_BROKEN_DB"]
    failed = {name for name, section in sections.items() if section.error}
    assert failed == {"solutions", "caches", "experiments", "cost"}  # exports read Airflow's own database
    assert html.count("Could not read this section: OperationalError") == 4
    assert "<h2>Exports</h2>" in html and "<h2>Cost</h2>" in html


def test_the_page_only_reads_and_gives_up_on_a_slow_query(pipeline_env):
    import psycopg
    import pytest

    from personalize_ui.sections import reading

    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), reading("store_db") as conn:
        conn.execute("CREATE TABLE page_must_not_write (x int)")
    with pytest.raises(psycopg.errors.QueryCanceled), reading("store_db") as conn:
        conn.execute("SELECT pg_sleep(30)")  # cancelled after the page's statement timeout (5 s)


def test_the_experiment_section_shows_crossovers_and_their_verdict(pipeline_env):
    """The report's own table (results_setup.sql), read and rendered by the page without a browser."""
    import re
    from datetime import date

    import psycopg

    from personalize_pipeline.config import ConnectionsConfig, load_config
    from personalize_pipeline.sql_files import compose
    from personalize_ui.app import _environment
    from personalize_ui.sections import SECTIONS, Section, experiments, guarded

    schema = "ui_crossover_tests"
    with psycopg.connect(pipeline_env["database_url"], autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(compose("experiments/results_setup.sql", schema=schema))
        for variant, users, crossovers in (("popular", 1000, 41), ("personalized", 990, 17)):
            conn.execute(
                f"INSERT INTO {schema}.experiment_results (experiment, day, metric, variant, users,"
                " exposures, conversions, crossovers, rate, srm_p, verdict)"
                " VALUES ('homepage-recs', %s, 'primary', %s, %s, 3000, 100, %s, 0.1, 0.8, %s)",
                (date(2026, 11, 5), variant, users, crossovers, "invalid: crossover"),
            )
    cfg = load_config()
    cfg = cfg.model_copy(
        update={"cache_schema": schema, "connections": ConnectionsConfig(cache_db="store_db")}
    )

    section = guarded(experiments, cfg)
    (result,) = section.data["results"]
    assert {r["variant"]: r["crossovers"] for r in result["latest"]} == {"popular": 41, "personalized": 17}
    sections = {name: Section() for name in SECTIONS} | {"experiments": section}  # only this one read
    page = {"name": cfg.name, "cfg": cfg, "sections": sections}
    html = _environment().get_template("page.html").render(pipelines=[page], user="tester")
    assert '<th title="of the users, those also shown another variant later">crossovers</th>' in html
    cells = re.findall(r'<td class="n crossovers">(\d+)</td>', html)
    assert sorted(cells) == ["17", "41"]
    assert "Verdict: <strong>invalid: crossover</strong>" in html
    assert "assignment was not stable" in html
