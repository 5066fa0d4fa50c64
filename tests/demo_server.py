"""Test helpers for the web demo: a served page on a free local port, and a network guard.

:func:`no_outbound` makes any connection (or name lookup) to a host other than this machine
fail and records it, so a test can assert that the demo never tried one.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _is_local(host: Any) -> bool:
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like
    host = host.strip("[]").lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


@dataclass
class Outbound:
    """Hosts something in this process tried to reach."""

    attempts: list[str] = field(default_factory=list)


@contextlib.contextmanager
def no_outbound() -> Iterator[Outbound]:
    """Refuse and record every connection and name lookup that leaves this machine."""
    seen = Outbound()
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if not _is_local(host):
            seen.attempts.append(str(host))
            raise OSError(f"test: outbound connection to {host} refused")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, bytes):
            host = host.decode()
        if host is not None and not _is_local(host):
            seen.attempts.append(str(host))
            raise socket.gaierror(f"test: name lookup of {host} refused")
        return real_getaddrinfo(host, *args, **kwargs)

    import huggingface_hub.constants

    with pytest.MonkeyPatch.context() as patch:
        # NOTE: gradio_client's headers come from huggingface_hub, which otherwise fetches a
        # registry from the Hub (the test's client, not the demo, would reach out).
        patch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        patch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        patch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        patch.setenv("NO_PROXY", "127.0.0.1,localhost")
        yield seen


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served_demo(**service_kwargs: Any) -> Iterator[tuple[Any, str]]:
    """(the service, the page's URL) of a demo served on a free local port."""
    from glamor_zoo.demo import DemoService
    from glamor_zoo.demo.page import launch_demo

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    service = DemoService(**service_kwargs)
    demo = launch_demo(service, port=free_port(), block=False, quiet=True)
    try:
        yield service, demo.local_url.rstrip("/") + "/"
    finally:
        demo.close()
