"""Where a development cluster keeps its files and which loopback ports it uses.

A cluster is identified by a name; its directory is ``$AIMCTL_STATE_DIR/clusters/<name>`` (default
``~/.local/state/aimctl``). Everything durable lives there: certificates, kubeconfigs, etcd's data
(so objects survive a restart of the cluster), component logs and pid files. Ports are consecutive
from a base, so two clusters (the developer's and the test suite's) coexist on one machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Default port base of the developer's cluster ("dev") and of the test suite's ("test").
DEFAULT_PORT_BASES = {"dev": 16443, "test": 26443}
_FALLBACK_PORT_BASE = 30443
#: Linux hands out outgoing (ephemeral) ports from 32768 up: a listener there can find its port taken.
EPHEMERAL_PORT_START = 32768
PORTS_PER_CLUSTER = 10


def state_root() -> Path:
    """Root of aimctl's state: ``$AIMCTL_STATE_DIR`` or ``~/.local/state/aimctl``."""
    return Path(os.environ.get("AIMCTL_STATE_DIR", Path.home() / ".local" / "state" / "aimctl")).expanduser()


@dataclass(frozen=True)
class Ports:
    """The loopback ports of one cluster, consecutive from ``base``."""

    base: int

    @property
    def apiserver(self) -> int:
        return self.base

    @property
    def etcd_client(self) -> int:
        return self.base + 1

    @property
    def etcd_peer(self) -> int:
        return self.base + 2

    @property
    def controller_manager(self) -> int:
        return self.base + 3

    @property
    def scheduler(self) -> int:
        return self.base + 4

    @property
    def kwok(self) -> int:
        return self.base + 5

    @property
    def kwok_metrics(self) -> int:
        return self.base + 6

    @property
    def kserve_webhook(self) -> int:
        """KServe's admission webhooks (HTTPS; the apiserver calls them by URL)."""
        return self.base + 7

    @property
    def kserve_probe(self) -> int:
        """KServe manager's ``/healthz`` and ``/readyz``."""
        return self.base + 8

    @property
    def kserve_metrics(self) -> int:
        return self.base + 9


@dataclass(frozen=True)
class Layout:
    """Paths and ports of one named cluster. Pure: creating one touches no file."""

    name: str
    root: Path
    ports: Ports

    @classmethod
    def for_name(cls, name: str, port_base: int | None = None) -> Layout:
        base = port_base or DEFAULT_PORT_BASES.get(name, _FALLBACK_PORT_BASE)
        if not 1024 <= base <= EPHEMERAL_PORT_START - PORTS_PER_CLUSTER:
            raise ValueError(
                f"port base {base} for cluster {name!r}: choose 1024..{EPHEMERAL_PORT_START - PORTS_PER_CLUSTER} "
                f"(the cluster listens on {PORTS_PER_CLUSTER} consecutive ports, and ports from "
                f"{EPHEMERAL_PORT_START} up are handed to outgoing connections)"
            )
        return cls(name=name, root=state_root() / "clusters" / name, ports=Ports(base))

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd-data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig users and tests connect with."""
        return self.root / "kubeconfig"

    def component_kubeconfig(self, component: str) -> Path:
        return self.config / f"{component}.kubeconfig"

    def pidfile(self, component: str) -> Path:
        return self.run / f"{component}.pid"

    def logfile(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports.apiserver}"

    @property
    def etcd_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.etcd_client}"
