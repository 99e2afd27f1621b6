"""The API runs as its own small process: importing it (and starting its parser) pulls in no Airflow."""

from __future__ import annotations

import subprocess
import sys
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
    import json
    import os
    import socket
    import time
    import urllib.request

    from conftest import demo_config_data

    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    with pipelines_dir({"shop": demo_config_data()}, tmp_path / "pipelines") as folder:
        env = {**os.environ, "SERVING_DATABASE_URL": caches, "PERSONALIZE_PIPELINES_DIR": str(folder)}
        server = subprocess.Popen(
            [sys.executable, "-m", "serving", "--pipeline", "shop", "--port", str(port)], cwd=ROOT, env=env
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/recommendations/srv-c1"
                    ) as response:
                        body = json.loads(response.read())
                    break
                except OSError:
                    assert server.poll() is None and time.monotonic() < deadline, "the API did not start"
                    time.sleep(0.2)
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert body["source"] == "personalized" and body["items"]
