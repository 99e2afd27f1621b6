"""
The Personalize page in a real browser: the Airflow API server with this project's plugin, after
two monthly exports and a FULL retraining of a small pipeline; headless Chromium logs in on
Airflow's login page, opens the page and reads what it rendered. A screenshot is kept in
tests/artifacts/. Anonymous requests are refused.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
import yaml

pytestmark = pytest.mark.e2e

SCHEMA = "ui_cache"
ADMIN_PASSWORD = "ui-test-password"  # noqa: S105 - a throwaway user of a throwaway server
ARTIFACTS = Path(os.environ.get("PYTEST_ARTIFACTS_DIR") or Path(__file__).resolve().parents[1] / "artifacts")
MISSING_BROWSER = (
    "Chromium is needed for the browser tests and was not found on PATH. Install it: "
    "`apt-get install -y chromium` (Debian/Ubuntu, as root), or run scripts/test.sh as root, which does."
)


def _config(bucket: str) -> dict:
    from personalize_pipeline.config import DEFAULT_PATH

    raw = copy.deepcopy(yaml.safe_load(DEFAULT_PATH.read_text()))
    raw.update(dataset_group="ui-page", cache_schema=SCHEMA, start_date="2026-09-01", poll_seconds=1)
    raw["s3"] = {"bucket": bucket, "prefix": "ui-page"}
    raw["event_sync"]["tracker_name"] = "ui-page-events"
    raw["retries"] = {"count": 1, "delay_seconds": 1, "max_delay_minutes": 1}
    return raw


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag(dag_id)


def _experiment_results(url: str) -> None:
    """The experiment report's table as the page reads it (another part of the project writes it)."""
    with psycopg.connect(url) as conn:
        conn.execute(
            f"CREATE TABLE {SCHEMA}.experiment_results (experiment text, day date, metric text, "
            "variant text, users bigint, exposures bigint, crossovers bigint, conversions bigint, "
            "rate float8, ci_low float8, ci_high float8, lift float8, lift_ci_low float8, "
            "lift_ci_high float8, p_value float8, p_adjusted float8, srm_p float8, verdict text)"
        )
        for day, control, treated in ((1, 0.10, 0.12), (2, 0.11, 0.14)):
            for variant, rate, lift in (
                ("popular", control, None),
                ("personalized", treated, treated - control),
            ):
                conn.execute(
                    f"INSERT INTO {SCHEMA}.experiment_results VALUES ('homepage-recs', %s, 'purchase', %s, "
                    "500, 1500, 3, %s, %s, %s, %s, %s, %s, %s, 0.01, 0.02, 0.6, %s)",
                    (
                        date(2026, 11, day),
                        variant,
                        int(rate * 500),
                        rate,
                        rate - 0.02,
                        rate + 0.02,
                        lift,
                        None if lift is None else lift - 0.03,
                        None if lift is None else lift + 0.03,
                        "personalized wins" if day == 2 else None,
                    ),
                )


@pytest.fixture(scope="module")
def pipeline_run(pipeline_env, tmp_path_factory, pipelines_dir):
    from devenv import datagen

    url = pipeline_env["database_url"]
    datagen.load(url, datagen.generate("demo"))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    with pipelines_dir(
        {"personalize": _config(pipeline_env["bucket"])}, tmp_path_factory.mktemp("ui-pipelines")
    ):
        for month in (10, 11):
            assert str(
                _dag("personalize_export").test(logical_date=datetime(2026, month, 1, tzinfo=UTC)).state
            ) == ("success")
        run = _dag("personalize_retrain_full").test(
            logical_date=datetime(2026, 11, 1, tzinfo=UTC), run_conf={"poll_seconds": 1}
        )
        assert str(run.state) == "success"
        _experiment_results(url)
        yield {**pipeline_env, "run": run}


def test_the_run_recorded_what_it_consumed(pipeline_run, aws_clients):
    """The report task's usage, checked against S3 and the cache loads (the page's cost section shows it)."""
    from personalize_pipeline.costs import GB

    s3, bucket = aws_clients("s3"), pipeline_run["bucket"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="ui-page/datasets/")["Contents"]
    # FULL: the whole interactions folder, and the newest items and users snapshots
    imported = [o for o in listed if "/interactions/" in o["Key"] or o["Key"].endswith("2026-10-01T0000.csv")]
    assert len(imported) == 4
    with psycopg.connect(pipeline_run["database_url"]) as conn:
        gb, hours, recommendations, segment_users, tps = conn.execute(
            f"SELECT gb_ingested, training_hours, batch_recommendations, segment_users, tps_hours "
            f"FROM {SCHEMA}.run_costs WHERE run_id = %s",
            (pipeline_run["run"].run_id,),
        ).fetchone()
        keys = dict(
            conn.execute(f"SELECT cache_name, key_count FROM {SCHEMA}.cache_loads WHERE status = 'live'")
        )
        segments = conn.execute(
            f"SELECT count(*) FROM {SCHEMA}.item_affinity_segments"  # one row per (item, user)
        ).fetchone()[0]
    assert gb == pytest.approx(sum(o["Size"] for o in imported) / GB)
    assert recommendations == keys["user_recommendations"] + keys["similar_items"]
    assert segment_users == segments > 0
    assert hours > 0 and tps == 0  # three versions trained; no campaign configured


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, headers: dict[str, str] | None = None):
    """(status, headers, body) without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=60) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


@pytest.fixture(scope="module")
def api_server(pipeline_run, tmp_path_factory):
    """``airflow api-server`` on a free loopback port, one worker, an admin user with a known password."""
    from devenv.process_tree import stop_tree

    home = tmp_path_factory.mktemp("api-server")
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({"admin": ADMIN_PASSWORD}))
    port = _free_port()
    env = {
        **os.environ,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": "ui-test-jwt-secret-" + str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
    }
    log = (home / "api-server.log").open("w")
    command = [sys.executable, "-m", "airflow", "api-server", "-H", "127.0.0.1", "-p", str(port), "-w", "1"]
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                if _get(f"{base}/api/v2/monitor/health")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the API server did not start:\n{(home / 'api-server.log').read_text()[-3000:]}")
            time.sleep(1)
        yield base
    finally:
        import psutil

        stop_tree(psutil.Process(server.pid), grace=20)
        server.wait()
        log.close()


def test_anonymous_requests_are_refused(api_server):
    status, _, body = _get(f"{api_server}/personalize/", {"Accept": "application/json"})
    assert status == 401 and "Not authenticated" in body
    status, headers, _ = _get(f"{api_server}/personalize/", {"Accept": "text/html"})
    assert status == 303 and "/auth/login" in headers["Location"]
    status, _, _ = _get(f"{api_server}/personalize/", {"Authorization": "Bearer not-a-token"})
    assert status == 403


def test_a_bearer_token_from_the_rest_api_opens_the_page(api_server):
    request = urllib.request.Request(
        f"{api_server}/auth/token",
        data=json.dumps({"username": "admin", "password": ADMIN_PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        token = json.loads(response.read())["access_token"]
    status, _, body = _get(f"{api_server}/personalize/", {"Authorization": f"Bearer {token}"})
    assert status == 200 and "<h2>Solutions</h2>" in body
    status, _, body = _get(f"{api_server}/api/v2/plugins", {"Authorization": f"Bearer {token}"})
    (plugin,) = [p for p in json.loads(body)["plugins"] if p["name"] == "personalize"]
    assert plugin["fastapi_apps"][0]["url_prefix"] == "/personalize"
    (view,) = plugin["external_views"]  # the navigation entry: Browse -> Personalize
    assert (view["href"], view["url_route"], view["category"]) == ("personalize/", "personalize", "browse")


def test_the_page_in_a_browser(api_server, pipeline_run):
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(MISSING_BROWSER)
    url = pipeline_run["database_url"]
    with psycopg.connect(url) as conn:
        live_arn = conn.execute(
            f"SELECT solution_version_arn FROM {SCHEMA}.solution_metrics "
            "WHERE solution = 'user-personalization' AND decision = 'promoted'"
        ).fetchone()[0]
        user_rows = conn.execute(
            f"SELECT row_count FROM {SCHEMA}.cache_loads "
            "WHERE cache_name = 'user_recommendations' AND status = 'live'"
        ).fetchone()[0]
        total = conn.execute(f"SELECT total_usd FROM {SCHEMA}.run_costs").fetchone()[0]
        baseline = conn.execute(
            f"SELECT baseline_value FROM {SCHEMA}.solution_metrics WHERE solution = 'user-personalization'"
        ).fetchone()[0]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{api_server}/personalize/")
            page.wait_for_url("**/auth/login**")  # Airflow's own login page, sent back here after it
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", ADMIN_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/personalize/**")
            page.wait_for_selector("h2")
            text = page.inner_text("body")
            html = page.content()
            charts = page.locator("figure.chart svg").count()
            page.screenshot(path=str(ARTIFACTS / "personalize-page.png"), full_page=True)
        finally:
            browser.close()
    for heading in ("Solutions", "Caches", "Exports", "Experiments", "Cost"):
        assert f"\n{heading}\n" in f"\n{text}\n"
    assert f"Live version: {live_arn}" in text
    assert f"{user_rows:,}" in text
    baseline_line = "Popularity baseline (popularity-count on the same data, latest run)"
    assert f"{baseline_line}: normalized_discounted_cumulative_gain_at_10 {baseline:.4f}" in text
    assert "Popularity baseline: not compared" in text  # similar-items and item-affinity
    assert "Active customers covered by user_recommendations:" in text
    assert "2026-10-01T0000" in text  # the October interactions partition, from its asset event
    assert "Verdict: personalized wins" in text
    assert f"${total:.2f}" in text
    assert "Could not read this section" not in text
    assert charts >= 5  # three solutions' metric histories, the export rows, the experiment
    assert "<script" not in html and "cdn" not in html.lower()  # everything is on the page itself
