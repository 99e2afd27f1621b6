"""The API runs as its own small process: importing it (and starting its parser) pulls in no Airflow."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_app_and_its_config_loads_no_airflow():
    script = (
        "import sys, serving.app, serving.__main__; "
        "from personalize_pipeline.config import load_config; load_config(); "
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_start_command_documents_its_options():
    result = subprocess.run(
        [sys.executable, "-m", "serving", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for option in ("--pipeline", "--host", "--port"):
        assert option in result.stdout
    assert "127.0.0.1" in (ROOT / "serving" / "__main__.py").read_text()


def test_the_documented_command_serves_the_api(caches, pipelines_dir, tmp_path):
    from api_testdata import demo_config_data

    from serving.process import running_api

    with pipelines_dir({"shop": demo_config_data()}, tmp_path / "pipelines") as folder:
        env = {"PERSONALIZE_PIPELINES_DIR": str(folder)}
        with (
            running_api(caches, "shop", env) as base,
            urllib.request.urlopen(f"{base}/recommendations/srv-c1") as r,
        ):
            body = json.loads(r.read())
    assert base.startswith("http://127.0.0.1:")
    assert body["source"] == "personalized" and body["items"]
