"""The session factory: hooks' sessions share parsed service models, never credentials."""

from __future__ import annotations

from unittest import mock

from airflow.models.connection import Connection
from airflow.providers.amazon.aws.hooks import base_aws
from botocore.loaders import JSONFileLoader

from personalize_provider.hooks.session_factory import SharedLoaderSessionFactory


def _session(login: str):
    conn = Connection(
        conn_id=f"aws_{login}",
        conn_type="aws",
        login=login,
        password=f"{login}-secret",
        extra={"region_name": "eu-west-1"},
    )
    return SharedLoaderSessionFactory(conn=conn).create_session()


def test_the_project_configures_it():
    # devenv.airflow_env.configure sets [aws] session_factory before the provider is imported.
    assert base_aws.SessionFactory is SharedLoaderSessionFactory


def test_a_second_session_parses_no_model_again():
    first, second = _session("alice"), _session("bob")
    first.client("s3", endpoint_url="http://127.0.0.1:9")
    parsed_again = AssertionError("a model was parsed again")
    with mock.patch.object(JSONFileLoader, "load_file", side_effect=parsed_again):
        client = second.client("s3", endpoint_url="http://127.0.0.1:9")
    assert client.meta.region_name == "eu-west-1"
    assert second.get_credentials().access_key == "bob"
    assert first.get_credentials().access_key == "alice"
