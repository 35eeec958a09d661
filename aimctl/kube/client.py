"""Building the API client: kubeconfig or in-cluster service account, plus the request limits.

Why: the operator runs in-cluster (service-account token and CA, token re-read every minute by
kubernetes_asyncio because bound tokens expire after an hour) and locally (a kubeconfig). Where the
configuration comes from follows controller-runtime's order, so users meet no surprise:

    1. an explicit ``--kubeconfig`` path;
    2. ``$KUBECONFIG`` (its first path);
    3. the in-cluster service account, when ``KUBERNETES_SERVICE_HOST`` is set;
    4. ``~/.kube/config``.

The returned :class:`informers.rest.RestClient` carries the client-side limits of DESIGN.md §4:
a token bucket (default 200 requests/s, burst 400 — above what 1 000 services need to converge in a
minute, below what a 2-core apiserver can take) and at most 32 writes in flight, well below the
connection pool (default 256 connections, shared with the long-running watches).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config

import aimctl
from informers.ratelimit import AsyncTokenBucket
from informers.rest import RequestObserver, RestClient

USER_AGENT = f"aimctl/{aimctl.__version__}"


@dataclass
class ClientSettings:
    """Connection and throttling settings (defaults documented in the module docstring)."""

    kubeconfig: Path | None = None
    context: str | None = None
    qps: float = 200.0
    burst: int = 400
    max_inflight_writes: int = 32
    request_timeout: float = 30.0
    connection_pool_size: int = 256


def in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


async def load_configuration(kubeconfig: Path | None = None, context: str | None = None) -> k8s_client.Configuration:
    """Load a client configuration in controller-runtime's order (see the module docstring)."""
    cfg = k8s_client.Configuration()
    path = kubeconfig
    if path is None and os.environ.get("KUBECONFIG"):
        path = Path(os.environ["KUBECONFIG"].split(os.pathsep)[0])
    if path is None and in_cluster():
        k8s_config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        return cfg
    if path is None:
        path = Path.home() / ".kube" / "config"
    await k8s_config.load_kube_config(
        config_file=str(path), context=context, client_configuration=cfg, persist_config=False
    )
    return cfg


async def new_client(settings: ClientSettings, observer: RequestObserver | None = None) -> RestClient:
    """A :class:`RestClient` that owns its ``ApiClient`` (close it with :meth:`RestClient.close`)."""
    cfg = await load_configuration(settings.kubeconfig, settings.context)
    cfg.connection_pool_maxsize = settings.connection_pool_size
    api = k8s_client.ApiClient(cfg)
    api.user_agent = USER_AGENT
    return RestClient(
        api,
        limiter=AsyncTokenBucket(settings.qps, settings.burst) if settings.qps > 0 else None,
        max_inflight_writes=settings.max_inflight_writes or None,
        observer=observer,
        default_timeout=settings.request_timeout,
        own_client=True,
    )
