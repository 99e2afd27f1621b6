"""
The Airflow UI on the demo setup: private PostgreSQL, local endpoint on 127.0.0.1:4566, and
Airflow's components on loopback only (devenv.airflow_services).

Stops everything it started on Ctrl-C, SIGTERM or SIGHUP (see devenv.process_tree); restarts the
endpoint if it exits meanwhile (devenv.endpoint_supervisor).
Loads the demo data if the store is empty.
"""

from __future__ import annotations

import os
import sys

import psycopg

from devenv import process_tree
from devenv.postgres import LOCAL_DIR, apply_schema, database_url

PORT = 4566  # devenv.airflow_cli.LOCAL_ENDPOINT
# Each local job holds every intermediate status this long, so none ends within ~20 s of its start.
# A trigger that fires sooner can beat the scheduler to the LocalExecutor's "success" event of the
# worker that deferred (8.5 s late on a busy machine), and Airflow 3.3.2 then fails the resumed
# task as "killed externally" (see the README's knobs). Real jobs take minutes.
STEP_SECONDS = 10.0


def main() -> int:
    db_url = database_url()
    apply_schema(db_url)
    with psycopg.connect(db_url) as conn:
        empty = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM store.customers)").fetchone()[0]
    if empty:
        from devenv import datagen

        datagen.load(db_url, datagen.generate("demo"))

    from devenv.endpoint_supervisor import supervised_endpoint

    step = float(os.environ.get("LOCAL_PERSONALIZE_STEP_SECONDS", STEP_SECONDS))
    # Started again if it exits, resuming its jobs, as long as this command runs.
    with supervised_endpoint(LOCAL_DIR / "aws", step_seconds=step, port=PORT) as endpoint:
        from devenv.airflow_cli import configure_local
        from devenv.airflow_env import migrate
        from devenv.demo import create_bucket
        from personalize_pipeline.config import ConfigError, load_config
        from personalize_pipeline.pipelines import pipeline_files

        configure_local(endpoint)
        migrate()
        for path in pipeline_files():
            try:
                create_bucket(endpoint, load_config(path).s3.bucket)
            except ConfigError as error:  # the UI shows it as that pipeline's import error
                print(error)
        print(f"Local AWS endpoint {endpoint}; Airflow UI on http://127.0.0.1:8080 (Ctrl-C stops all)")
        # Any stop signal takes down every Airflow component, then the endpoint (leaving this block).
        return process_tree.run([sys.executable, "-m", "devenv.airflow_services"])


if __name__ == "__main__":
    sys.exit(main())
