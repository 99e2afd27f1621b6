"""
An AWS session factory whose sessions share one botocore data loader per process.

Every hook builds a new boto3 session, and each new session parses the service's model, its
endpoint rules and endpoints.json again: about 0.3 s for Personalize and over 1 s for S3 on
two busy cores, paid by every task that makes a hook. The loader caches what it parsed, so
sessions that share one parse each file once per process. The Amazon provider shares a loader
the same way for its async sessions (``base_aws._loader``); this does it for sync sessions.

Enable it with ``[aws] session_factory =
personalize_provider.hooks.session_factory.SharedLoaderSessionFactory`` (read when the
provider's ``base_aws`` is first imported). Credentials, regions and clients stay per session;
sessions that assume a role are made as before.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from airflow.providers.amazon.aws.hooks.base_aws import BaseSessionFactory
from botocore.loaders import Loader, create_loader

_loaders: dict[str | None, Loader] = {}
_loaders_lock = threading.Lock()


def shared_loader(data_path: str | None) -> Loader:
    """The process's loader for botocore's ``data_path`` setting (extra model folders)."""
    with _loaders_lock:
        if data_path not in _loaders:
            _loaders[data_path] = create_loader(data_path)
        return _loaders[data_path]


class SharedLoaderSessionFactory(BaseSessionFactory):
    """``BaseSessionFactory`` whose boto3 sessions parse botocore's JSON models once per process."""

    def _create_basic_session(self, session_kwargs: dict[str, Any]) -> boto3.session.Session:
        session = super()._create_basic_session(session_kwargs)
        botocore_session = session._session
        botocore_session.register_component(
            "data_loader", shared_loader(botocore_session.get_config_variable("data_path"))
        )
        return session
