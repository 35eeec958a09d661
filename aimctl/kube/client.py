"""Building the API client: kubeconfig or in-cluster service account, plus the request limits.

Why: the operator runs in-cluster (service-account token and CA, the token re-read every minute
because bound tokens expire after an hour) and locally (a kubeconfig); both are read by
:mod:`aimctl.kube.kubeconfig` and requests go through :mod:`aimctl.kube.transport`. Where the
configuration comes from follows controller-runtime's order, so users meet no surprise:

    1. an explicit ``--kubeconfig`` path;
    2. ``$KUBECONFIG`` (its first path);
    3. the in-cluster service account, when ``KUBERNETES_SERVICE_HOST`` is set;
    4. ``~/.kube/config``.

The returned :class:`informers.rest.RestClient` carries the client-side limits: at most 32 writes
in flight (well below the pool of unary requests, default 256 connections), reconcile writes before
events (:mod:`informers.writeslots`), and an optional token bucket, **off by default** (``qps`` 0).

Why no token bucket by default: the apiserver protects itself by *concurrency* (API Priority and
Fairness seats, ``--max-requests-inflight``), and the operator's write budget is a concurrency too:
32 writes in flight. A requests-per-second bucket only adds a ceiling that does not follow the
apiserver's speed: at 200/s (the former default) the ~5 000 requests of 1 000 services could not go
faster than ~23 s however fast the apiserver answered, above the ~20 s the apiserver itself needed
(issue 18). client-go's and controller-runtime's defaults (5/s, 20/s, 100/s) came before APF;
controller-runtime disables its bucket by default since v0.21 on SIG API Machinery's advice.
What keeps a tenant from making the operator flood the apiserver is unchanged: each key is reconciled
by one worker at a time, a reconcile writes only what differs from the cache (zero writes at rest),
failures back off per key and globally (:mod:`informers.ratelimit`), and every write holds one of
the 32 slots. Reads are served from the informers' caches; the few direct reads (discovery pod logs,
the leader lease on a client of its own) are bounded by the workers. ``--api-qps N`` (with
``--api-burst``) turns the bucket on for an apiserver without APF.

Watches have a connection pool of their own, without a limit: each watch holds one connection for
minutes (HTTP/1.1 cannot multiplex them as client-go's HTTP/2 does), and there is one per namespace
per watched kind — with ``--namespaces`` listing 50 namespaces that is several hundred, which a
shared, bounded pool could not hold: watches would wait for connections and starve every request.
Their number is fixed by the configuration (kinds x namespaces). For the same reason the process's
soft open-file limit is raised to its hard limit (as the Go runtime does for every Go program).

Neither session trusts the environment per request: an aiohttp session with ``trust_env=True`` (as
kubernetes_asyncio opens them) reads ``~/.netrc`` and the proxy variables in a worker thread for
*every* request (two thread-pool hops per request: a sixth of the operator's CPU at 1 000 services,
measured by ``tests/bench/bench_scale.py``). The proxy the environment names for the apiserver
(``HTTPS_PROXY``/``NO_PROXY``, as client-go honours them) is resolved once here instead, unless the
kubeconfig names one; netrc
credentials are not an apiserver authentication method (client-go ignores them too).
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

import aimctl
from aimctl.kube.kubeconfig import Configuration, load_incluster, load_kubeconfig
from aimctl.kube.transport import ApiTransport
from informers.ratelimit import AsyncTokenBucket
from informers.rest import RequestObserver, RestClient

USER_AGENT = f"aimctl/{aimctl.__version__}"


@dataclass
class ClientSettings:
    """Connection and throttling settings (defaults documented in the module docstring)."""

    kubeconfig: Path | None = None
    context: str | None = None
    qps: float = 0.0  # no token bucket: see the module docstring
    burst: int = 400
    max_inflight_writes: int = 32
    request_timeout: float = 30.0
    connection_pool_size: int = 256


def in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


async def load_configuration(kubeconfig: Path | None = None, context: str | None = None) -> Configuration:
    """Load a client configuration in controller-runtime's order (see the module docstring); raises
    :class:`aimctl.kube.kubeconfig.KubeConfigError` naming what is wrong."""
    path = kubeconfig
    if path is None and os.environ.get("KUBECONFIG"):
        path = Path(os.environ["KUBECONFIG"].split(os.pathsep)[0])
    if path is None and in_cluster():
        return load_incluster()
    if path is None:
        path = Path.home() / ".kube" / "config"
    return await load_kubeconfig(path.expanduser(), context)


def raise_open_file_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def environment_proxy(host: str | None) -> str | None:
    """The proxy the environment names for the apiserver at ``host`` (a URL), or None (no proxy
    variable for its scheme, or ``NO_PROXY`` exempts it). aiohttp's own rule, applied once."""
    if not host:
        return None
    try:
        proxy, auth = get_env_proxy_for_url(URL(host))
    except LookupError:
        return None
    if auth is not None:
        proxy = proxy.with_user(auth.login).with_password(auth.password)
    return str(proxy)


async def new_client(settings: ClientSettings, observer: RequestObserver | None = None) -> RestClient:
    """A :class:`RestClient` that owns its transports (close it with :meth:`RestClient.close`):
    one for unary requests (a pool of ``connection_pool_size``) and one for watches (unbounded)."""
    raise_open_file_limit()
    cfg = await load_configuration(settings.kubeconfig, settings.context)
    if not cfg.proxy:
        cfg.proxy = environment_proxy(cfg.host)
    watch_api = ApiTransport(cfg, pool_size=0, user_agent=USER_AGENT)  # aiohttp: 0 = no limit
    api = ApiTransport(cfg, pool_size=settings.connection_pool_size, user_agent=USER_AGENT)
    return RestClient(
        api,
        watch_api_client=watch_api,
        limiter=AsyncTokenBucket(settings.qps, settings.burst) if settings.qps > 0 else None,
        max_inflight_writes=settings.max_inflight_writes or None,
        observer=observer,
        default_timeout=settings.request_timeout,
        own_client=True,
    )
