"""Free loopback ports for the clusters and servers that tests start next to the shared test cluster."""

from __future__ import annotations

import contextlib
import random
import socket

from aimctl.devcluster.layout import PORTS_PER_CLUSTER


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
