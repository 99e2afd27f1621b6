"""Refuse, before any packet leaves, every socket connect the tests are not allowed to make.

The suite talks only to 127.0.0.1 (the local endpoint, PostgreSQL) and unix sockets. A client that
forgets its endpoint or credentials would otherwise reach AWS, or the EC2 instance-metadata address
169.254.169.254 and pick up a cloud host's credentials; with this guard it fails with the address.
Only this interpreter's Python sockets are covered: libpq (psycopg) and subprocesses are not.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any


class NonLoopbackConnect(ConnectionRefusedError):
    """A test tried to connect somewhere other than loopback; the connect was never started."""


def is_loopback(family: int, address: Any) -> bool:
    """True for unix sockets and for IPv4/IPv6 loopback addresses (127.0.0.0/8, ::1)."""
    if family == getattr(socket, "AF_UNIX", None):
        return True
    if family not in (socket.AF_INET, socket.AF_INET6):
        return False
    host = address[0]
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:  # a host name: every address it resolves to must be loopback
        try:
            resolved = socket.getaddrinfo(host, None, family)
        except OSError:
            return False
        return bool(resolved) and all(is_loopback(family, info[4]) for info in resolved)
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


@contextlib.contextmanager
def loopback_only(allowed: Callable[[int, Any], bool] = is_loopback) -> Iterator[list[tuple[int, Any]]]:
    """Within the block, ``connect``/``connect_ex`` to a refused address raise ``NonLoopbackConnect``.

    Yields the list of refused attempts (family, address), also useful when the caller swallows the error.
    """
    refused: list[tuple[int, Any]] = []
    original_connect, original_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(sock: socket.socket, address: Any) -> None:
        if not allowed(sock.family, address):
            refused.append((int(sock.family), address))
            raise NonLoopbackConnect(f"tests may only connect to loopback; refused a connect to {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        return original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return original_connect_ex(self, address)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    try:
        yield refused
    finally:
        socket.socket.connect, socket.socket.connect_ex = original_connect, original_connect_ex
