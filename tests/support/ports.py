"""Private local clusters (and their free loopback ports) that tests start next to the shared test cluster."""

from __future__ import annotations

import contextlib
import random
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from aimctl.devcluster.layout import PORTS_PER_CLUSTER


def free_port() -> int:
    """A loopback port free right now (for a server a test starts, e.g. an operator's /metrics)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_base(count: int = PORTS_PER_CLUSTER) -> int:
    """A base of ``count`` consecutive free loopback ports for a private local cluster (other clusters
    may run on this machine). Bases are multiples of 10 below the Linux ephemeral range."""
    for _ in range(200):
        base = random.randrange(20000, 32000, 10)
        try:
            with contextlib.ExitStack() as stack:
                for port in range(base, base + count):
                    s = stack.enter_context(socket.socket())
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port range for the private cluster")


@contextlib.contextmanager
def start_private_cluster(shared: Any, name: str, **options: Any) -> Iterator[Any]:
    """A local cluster of its own, up for the block and destroyed after it, for tests that install
    cluster-wide objects, delete CRDs or run extra operators. ``shared`` is the session's ``cluster``
    fixture: on an external cluster the test is skipped. ``options`` go to ``DevCluster``."""
    if shared.local is None:
        pytest.skip("needs the local development cluster (a private one is started next to it)")
    from aimctl.devcluster.cluster import DevCluster

    local = DevCluster(name, port_base=free_port_base(), log=lambda m: print(f"[{name}] {m}"), **options)
    try:
        local.up()
        yield local
    finally:
        local.destroy()
