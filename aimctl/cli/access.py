"""The CLI's edge to the cluster: connect with the user's credentials, read, and turn every failure
into ONE line that names the cause and the fix.

Connection settings follow kubectl: ``--kubeconfig``, else ``$KUBECONFIG`` (its first path), else the
in-cluster service account, else ``~/.kube/config``; ``--context`` picks a context; the namespace is
``-n``, else the context's namespace, else ``default``.

Failures and their lines (:class:`CliError`, exit status 1):

* no kubeconfig, an unusable one, an unknown context;
* an apiserver that does not answer (refused, timed out, TLS not trusted) — with the server's URL;
* 401 — the credentials are rejected;
* 403 — which verb on which resource in which namespace, from the apiserver's own message;
* 404 on an AIM collection — the CRDs are missing, with the command that installs them.

Reads are *required* (the AIM kinds: a denial ends the command) or *optional* (pods, Jobs, PVCs,
events, KServe, Gateway API, nodes: a denial or a missing CRD only marks that kind unreadable, and
``explain`` shows that part of the chain as Unknown).
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import anyio
import yaml

from aimctl.kube.client import ClientSettings, in_cluster, new_client
from aimctl.kube.kubeconfig import KubeConfigError
from aimctl.kube.objects import dig, dig_list, dig_map, dig_str
from informers.resource import Resource
from informers.rest import ApiError, RestClient

T = TypeVar("T")

SA_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
INSTALL_CRDS = (
    "install them with `kubectl apply --server-side -k deploy/crds` from an aimctl checkout "
    "(or `aimctl crds --out DIR && kubectl apply --server-side -k DIR`)"
)
LOCAL_CLUSTER = "export KUBECONFIG=$(aimctl dev cluster kubeconfig)"


class CliError(Exception):
    """A failure the user can act on; ``str()`` is the one line to print."""


@dataclass(frozen=True)
class Target:
    """Where the CLI connects: the kubeconfig path (None = in-cluster), the context, the namespace."""

    kubeconfig: Path | None
    context: str | None
    namespace: str
    server: str = ""


def _kubeconfig_path(explicit: Path | None) -> Path | None:
    """The kubeconfig to read; None for in-cluster; :class:`CliError` when there is none at all."""
    if explicit is not None:
        if not explicit.exists():
            raise CliError(f"kubeconfig {explicit} does not exist: pass an existing file with --kubeconfig "
                           f"(local cluster: {LOCAL_CLUSTER})")  # fmt: skip
        return explicit
    env = os.environ.get("KUBECONFIG", "")
    if env:
        first = Path(env.split(os.pathsep)[0]).expanduser()
        if not first.exists():
            raise CliError(
                f"KUBECONFIG={env} names no existing file: fix it or unset it (local cluster: {LOCAL_CLUSTER})"
            )
        return first
    if in_cluster():
        return None
    home = Path.home() / ".kube" / "config"
    if not home.exists():
        raise CliError(f"no kubeconfig: KUBECONFIG is unset and {home} does not exist; set KUBECONFIG or pass "
                       f"--kubeconfig (local cluster: {LOCAL_CLUSTER})")  # fmt: skip
    return home


def resolve_target(kubeconfig: Path | None, context: str | None, namespace: str | None) -> Target:
    """Check the kubeconfig and context before any connection, and pick the namespace."""
    path = _kubeconfig_path(kubeconfig)
    if path is None:
        ns = namespace or (SA_NAMESPACE_FILE.read_text().strip() if SA_NAMESPACE_FILE.exists() else "default")
        host, port = os.environ.get("KUBERNETES_SERVICE_HOST", ""), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        return Target(None, context, ns, f"https://{host}:{port}")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise CliError(f"kubeconfig {path} cannot be read: {str(e).splitlines()[0]}") from e
    if not isinstance(doc, dict):
        raise CliError(f"kubeconfig {path} is not a kubeconfig (no mapping at the top)")
    contexts = {c.get("name"): dig_map(c, "context") for c in dig_list(doc, "contexts") if isinstance(c, dict)}
    name = context or doc.get("current-context")
    if not name:
        raise CliError(f"kubeconfig {path} has no current-context: pass --context "
                       f"(contexts: {', '.join(map(str, contexts)) or 'none'})")  # fmt: skip
    if name not in contexts:
        raise CliError(f"context {name!r} is not in kubeconfig {path}: "
                       f"use one of {', '.join(map(str, contexts)) or '(none defined)'} with --context")  # fmt: skip
    ctx = contexts[name]
    clusters = {c.get("name"): dig_map(c, "cluster") for c in dig_list(doc, "clusters") if isinstance(c, dict)}
    server = dig_str(clusters.get(ctx.get("cluster")), "server")
    return Target(path, str(name), namespace or str(ctx.get("namespace") or "default"), server)


def _where(namespace: str | None) -> str:
    return f' in namespace "{namespace}"' if namespace else " (cluster-wide)"


def translate(exc: BaseException, target: Target, verb: str = "", resource: Resource | None = None,
              namespace: str | None = None) -> CliError:  # fmt: skip
    """The one line for ``exc`` raised while doing ``verb`` on ``resource``."""
    server = target.server or "the apiserver"
    ctx = f" (context {target.context})" if target.context else ""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, ApiError):
        what = f"{verb} {resource.name}{_where(namespace)}" if resource is not None else verb
        if exc.status == 401:
            return CliError(f"{server} rejected the credentials of the kubeconfig{ctx} (401 Unauthorized): "
                            "log in again or refresh the token")  # fmt: skip
        if exc.status == 403:
            detail = exc.message or f"cannot {what}"
            return CliError(f"RBAC denied {what}: {detail}. Ask for a Role/ClusterRole granting "
                            f"[{verb}] on {resource.name if resource else 'it'} (see README, Access)")  # fmt: skip
        if exc.status == 404 and resource is not None and resource.group == "aim.silogen.ai":
            return CliError(f"the AIM CRDs are not installed on {server} ({resource.name} is unknown): {INSTALL_CRDS}")
        if exc.status == 404 and resource is not None:
            return CliError(f"{resource.name} is not served by {server}: install its CRD")
        return CliError(f"{what} failed: {exc}")
    if isinstance(exc, KubeConfigError):
        return CliError(f"the kubeconfig{ctx} is not usable: {exc}")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | ssl.SSLError):
        return CliError(f"TLS verification of {server} failed: check certificate-authority in the kubeconfig{ctx}")
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectionError | aiohttp.ClientConnectionError):
        cause = getattr(exc, "os_error", None) or exc
        if isinstance(cause, ConnectionRefusedError):
            reason = "connection refused"
        elif isinstance(cause, socket.gaierror):
            reason = "host name not found"
        else:
            reason = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
        return CliError(f"cannot reach {server}{ctx}: {reason}; is the cluster running? "
                        "(local cluster: aimctl dev cluster up)")  # fmt: skip
    if isinstance(exc, TimeoutError):
        return CliError(f"{server}{ctx} did not answer in time; is the cluster running and reachable?")
    return CliError(f"{type(exc).__name__}: {exc}")


@dataclass
class Reader:
    """Reads with one client; :meth:`list` raises :class:`CliError` for a required kind and records
    an optional kind it cannot read in :attr:`unreadable`."""

    client: RestClient
    target: Target
    unreadable: dict[str, str] = field(default_factory=dict)

    async def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist (a missing *type* is a :class:`CliError`)."""
        try:
            obj: dict[str, Any] = await self.client.request(
                "get", resource.path(namespace, name), resource=resource.name
            )
        except ApiError as e:
            if e.status == 404 and dig(e.body, "details", "name"):
                return None
            raise translate(e, self.target, "get", resource, namespace) from None
        except Exception as e:
            raise translate(e, self.target, "get", resource, namespace) from None
        return obj

    async def list(self, resource: Resource, namespace: str | None = None, *, optional: bool = False,
                   label_selector: str = "") -> list[dict[str, Any]]:  # fmt: skip
        query = [("labelSelector", label_selector)] if label_selector else []
        try:
            answer = await self.client.request("list", resource.path(namespace), resource=resource.name, query=query)
        except ApiError as e:
            if optional and e.status in (403, 404):
                why = "forbidden" if e.status == 403 else "not served (CRD missing)"
                self.unreadable.setdefault(resource.kind, f"list {resource.name}{_where(namespace)}: {why}")
                return []
            raise translate(e, self.target, "list", resource, namespace) from None
        except Exception as e:
            raise translate(e, self.target, "list", resource, namespace) from None
        items: list[dict[str, Any]] = list(dig_list(answer, "items"))
        api_version = answer.get("apiVersion") or resource.api_version
        for item in items:  # list items carry no kind/apiVersion
            item.setdefault("kind", resource.kind)
            item.setdefault("apiVersion", api_version)
        return items


@asynccontextmanager
async def connect(target: Target, request_timeout: float = 15.0) -> Any:
    """A :class:`Reader` for ``target``; connection problems become :class:`CliError`."""
    try:
        client = await new_client(ClientSettings(kubeconfig=target.kubeconfig, context=target.context, qps=0,
                                                 request_timeout=request_timeout))  # fmt: skip
    except Exception as e:
        raise translate(e, target) from None
    try:
        yield Reader(client, target)
    finally:
        await client.close()


async def gather(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run the coroutine factories concurrently; results in order; the first error wins."""
    results: list[Any] = [None] * len(calls)

    async def one(i: int) -> None:
        results[i] = await calls[i]()

    try:
        async with anyio.create_task_group() as tg:
            for i in range(len(calls)):
                tg.start_soon(one, i)
    except BaseExceptionGroup as group:
        first = group.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return results


async def preflight(
    target: Target,
    request_timeout: float = 10.0,
    wait: float = 0.0,
    on_retry: Callable[[str, float], object] | None = None,
) -> None:
    """Fail fast with one line when the apiserver is unreachable or rejects the credentials (used by
    ``aimctl run`` before it starts informers that would otherwise retry forever).

    ``wait``: for how many seconds an apiserver that does not answer yet (connection refused or reset,
    a timeout, 429 or 5xx: it is starting or restarting) is asked again, with a backoff of 1 s doubling
    to 8 s, ``on_retry(message, delay)`` told before each pause. What waiting cannot fix — a bad
    kubeconfig, rejected credentials, failed TLS verification — fails at once. ``aimctl run`` waits
    (a replica restarted while the apiserver restarts must not crash-loop); the CLI's reads do not.
    """
    deadline = anyio.current_time() + wait
    delay = 1.0
    async with connect(target, request_timeout) as reader:
        while True:
            try:
                await reader.client.request("get", "/version", request_timeout=request_timeout)
                return
            except Exception as e:
                error = translate(e, target, "get", None)
                left = deadline - anyio.current_time()
                if not _transient(e) or left <= 0:
                    raise error from None
                pause = min(delay, left)
                if on_retry is not None:
                    on_retry(str(error), pause)
                await anyio.sleep(pause)
                delay = min(delay * 2, 8.0)


def _transient(exc: BaseException) -> bool:
    """An apiserver that is not answering yet, as opposed to a configuration that cannot work."""
    if isinstance(exc, ApiError):
        return exc.status == 429 or exc.status >= 500
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | ssl.SSLError):
        return False
    return isinstance(exc, aiohttp.ClientConnectionError | ConnectionError | TimeoutError)
