"""The suite's network guard: nothing but loopback, refused before a single packet is sent."""

from __future__ import annotations

import os
import socket

import boto3
import pytest
from botocore.exceptions import NoCredentialsError
from loopback_guard import NonLoopbackConnect


@pytest.mark.parametrize(
    ("family", "address"),
    [
        (socket.AF_INET, ("192.0.2.1", 9)),  # TEST-NET-1: reserved for documentation, never routed
        (socket.AF_INET, ("169.254.169.254", 80)),  # the EC2 instance-metadata service
        (socket.AF_INET6, ("2001:db8::1", 9, 0, 0)),  # the IPv6 documentation prefix
    ],
    ids=["test-net", "instance-metadata", "ipv6"],
)
def test_a_connect_beyond_loopback_is_refused_before_it_starts(family, address, refused_connects):
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)  # were the guard gone, the test would still not wait for the network
        unbound = sock.getsockname()
        with pytest.raises(NonLoopbackConnect, match=address[0]):
            sock.connect(address)
        with pytest.raises(NonLoopbackConnect, match=address[0]):
            sock.connect_ex(address)
        # The kernel never saw a connect: a started one binds the socket to a local port.
        assert sock.getsockname() == unbound
    assert refused_connects[-2:] == [(family, address)] * 2
    del refused_connects[-2:]  # expected here; any other refusal fails the test that caused it


def test_loopback_and_unix_sockets_are_allowed(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        path = str(tmp_path / "s")
        server.bind(path)
        server.listen()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)


def test_a_client_without_credentials_never_asks_the_instance_metadata_service(monkeypatch, tmp_path):
    """On a cloud host, the metadata service would hand the tests the host's own credentials."""
    assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    client = boto3.session.Session(
        aws_access_key_id=None, aws_secret_access_key=None, region_name="us-east-1"
    ).client("personalize", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(NoCredentialsError):
        client.list_dataset_groups()
