"""Shared fixtures: Airflow pointed at this project, a real PostgreSQL, the local AWS endpoint."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import pytest
from loopback_guard import loopback_only

from devenv import postgres
from devenv.airflow_env import LOCAL_AWS_KEY, LOCAL_AWS_SECRET, configure, migrate, set_connections

# No AWS client may look for credentials on the EC2 instance-metadata address, in this process or in
# the subprocesses it starts (the local endpoint, Airflow's): set before anything builds a client.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
# Airflow reads its configuration at import: point it at a throwaway home before any test imports it.
configure(Path(tempfile.mkdtemp(prefix="personalize-tests-airflow-")))
# dag.test() runs only DAGs of a known bundle: the project's dags/, the tests' own fixture DAGs, and
# a folder where tests put the DAG files of extra pipelines (see ``pipeline_dag_file``).
TEST_DAGS = Path(__file__).resolve().parent / "dag_fixtures"
PIPELINE_DAGS = Path(tempfile.mkdtemp(prefix="personalize-test-pipeline-dags-"))
PROJECT_DAG_FILE = Path(__file__).resolve().parents[1] / "dags" / "personalize.py"
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
    [
        {
            "name": "dags-folder",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": os.environ["AIRFLOW__CORE__DAGS_FOLDER"]},
        },
        {
            "name": "test-dags",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(TEST_DAGS)},
        },
        {
            "name": "test-pipelines",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(PIPELINE_DAGS)},
        },
    ]
)


@pytest.fixture(scope="session")
def refused_connects():
    """Connects beyond loopback are refused for the whole session (see loopback_guard); the attempts."""
    with loopback_only() as refused:
        yield refused


@pytest.fixture(autouse=True)
def _loopback_only(refused_connects):
    """A test fails even when the code it runs swallowed the refusal (botocore's credential search does)."""
    before = len(refused_connects)
    yield
    if len(refused_connects) > before:
        pytest.fail(f"connects beyond loopback were attempted: {refused_connects[before:]}")


def _pipeline_dag_file(name: str) -> Path:
    path = PIPELINE_DAGS / f"{name}.py"
    path.write_text(PROJECT_DAG_FILE.read_text())
    return path


@pytest.fixture(scope="session")
def pipeline_dag_file():
    """Writes the DAG file of pipeline ``name``: a copy of the project's, named after the pipeline,
    in a folder dag.test() knows."""
    return _pipeline_dag_file


@pytest.fixture(scope="session")
def pipelines_dir():
    """A context manager: ``PERSONALIZE_PIPELINES_DIR`` at a folder holding ``<name>.yaml`` per config."""
    return _pipelines_dir


@contextlib.contextmanager
def _pipelines_dir(configs: dict[str, dict], folder: Path):
    """``PERSONALIZE_PIPELINES_DIR`` pointed at ``folder`` holding one ``<name>.yaml`` per config."""
    import yaml

    from personalize_pipeline.config import PIPELINES_DIR_ENV

    folder.mkdir(parents=True, exist_ok=True)
    for name, raw in configs.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    previous = os.environ.get(PIPELINES_DIR_ENV)
    os.environ[PIPELINES_DIR_ENV] = str(folder)
    try:
        yield folder
    finally:
        if previous is None:
            os.environ.pop(PIPELINES_DIR_ENV, None)
        else:
            os.environ[PIPELINES_DIR_ENV] = previous


DEMO_BUCKET = "personalize-pipelines-demo"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory):
    """A configured server (PIPELINE_DATABASE_URL) if given, else a throwaway embedded one.

    Tests replace the store tables' contents, so point PIPELINE_DATABASE_URL only at a scratch database.
    """
    url = os.environ.get(postgres.URL_ENV)
    if url:
        yield url
        return
    with postgres.embedded_server(tmp_path_factory.mktemp("pg") / "data") as url:
        yield url


@pytest.fixture(scope="session")
def aws_endpoint(tmp_path_factory: pytest.TempPathFactory):
    """The local AWS endpoint (Personalize + moto S3) in a subprocess, for the whole session."""
    from local_aws.testing import MANY_DATASET_GROUPS, running_endpoint

    with running_endpoint(
        tmp_path_factory.mktemp("local-aws"), step_seconds=0.1, env=MANY_DATASET_GROUPS
    ) as url:
        yield url


@pytest.fixture(scope="session")
def airflow_db() -> None:
    migrate()


@pytest.fixture(scope="session")
def aws_clients(aws_endpoint):
    import boto3

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id=LOCAL_AWS_KEY,
            aws_secret_access_key=LOCAL_AWS_SECRET,
        )

    return client


@pytest.fixture(scope="session")
def pipeline_env(database_url, aws_endpoint, airflow_db, aws_clients) -> dict[str, str]:
    """Everything a DAG run needs: connections set, store schema applied, demo bucket created."""
    set_connections(db_url=database_url, aws_endpoint_url=aws_endpoint)
    postgres.apply_schema(database_url)
    s3 = aws_clients("s3")
    if DEMO_BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=DEMO_BUCKET)
    return {"database_url": database_url, "aws_endpoint": aws_endpoint, "bucket": DEMO_BUCKET}
