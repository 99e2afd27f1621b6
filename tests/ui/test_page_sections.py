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
