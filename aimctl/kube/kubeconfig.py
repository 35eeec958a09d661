"""Where the apiserver is and how to authenticate: a kubeconfig context, or the in-cluster account.

Why our own loader: kubernetes_asyncio's ``config`` imports its whole generated ``client`` package
(every API class and model, ~38 MiB of resident memory and most of ``aimctl run``'s import time),
though the operator only needs a URL, a TLS context and an ``Authorization`` header; requests go
through :mod:`aimctl.kube.transport` on aiohttp. What kubectl users meet is supported:

* cluster: ``server``, ``certificate-authority`` / ``-data``, ``insecure-skip-tls-verify``,
  ``tls-server-name``, ``proxy-url`` (an HTTP proxy; ``HTTPS_PROXY`` is honoured as well);
* user: ``client-certificate`` / ``-data`` with ``client-key`` / ``-data``, ``token``, ``tokenFile``
  (re-read every minute), ``username`` / ``password``, and ``exec`` credential plugins
  (``client.authentication.k8s.io`` v1 and v1beta1: a token, re-run when it expires, or a client
  certificate, read once at start-up);
* in-cluster: ``KUBERNETES_SERVICE_HOST``/``_PORT``, the service account's CA and token, the token
  re-read every minute (bound tokens expire after an hour and the kubelet rotates the file).

Relative file paths and exec commands are resolved against the kubeconfig's directory, as kubectl
does. The legacy ``auth-provider`` stanza (``oidc``, ``gcp``, ``azure``) is refused with an error
naming the exec plugin to use instead. Every error is a :class:`KubeConfigError` naming the field.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import yaml

from aimctl.kube.objects import dig_list, dig_map, dig_str

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
#: How long a token read from a file is used before the file is read again.
TOKEN_FILE_TTL = 60.0
#: An exec credential is renewed this many seconds before its ``expirationTimestamp``.
EXEC_EXPIRY_MARGIN = 10.0


class KubeConfigError(Exception):
    """The kubeconfig (or the in-cluster account) cannot be used; ``str()`` names the field and the fix."""


class Credentials:
    """The ``Authorization`` header of each request (none: client certificate only)."""

    async def authorization(self) -> str | None:
        return None


@dataclass
class StaticCredentials(Credentials):
    """A fixed header value (``Bearer <token>`` or ``Basic <base64>``)."""

    header: str

    async def authorization(self) -> str | None:
        return self.header


@dataclass
class TokenFileCredentials(Credentials):
    """A bearer token read from ``path``, read again once it is :data:`TOKEN_FILE_TTL` seconds old."""

    path: Path
    ttl: float = TOKEN_FILE_TTL
    clock: Callable[[], float] = time.monotonic
    _token: str = ""
    _read_at: float = float("-inf")

    def read(self) -> str:
        try:
            token = self.path.read_text().strip()
        except OSError as e:
            raise KubeConfigError(f"token file {self.path} cannot be read: {e.strerror or e}") from e
        if not token:
            raise KubeConfigError(f"token file {self.path} is empty")
        return token

    async def authorization(self) -> str | None:
        now = self.clock()
        if now - self._read_at >= self.ttl:
            try:
                self._token, self._read_at = self.read(), now
            except KubeConfigError:
                if not self._token:
                    raise  # keep the last good token while the kubelet rewrites the file
        return f"Bearer {self._token}"


@dataclass
class ExecCredentials(Credentials):
    """A ``client.authentication.k8s.io`` exec plugin (kubectl's ``users[].user.exec``)."""

    spec: dict[str, Any]
    base_dir: Path
    clock: Callable[[], float] = time.time
    _token: str | None = None
    _expires: float | None = None
    status: dict[str, Any] = field(default_factory=dict)

    def command(self) -> list[str]:
        command = str(self.spec.get("command") or "")
        if not command:
            raise KubeConfigError("user.exec.command is empty: name the credential plugin to run")
        if os.sep in command and not os.path.isabs(command):
            command = str(self.base_dir / command)
        return [command, *(str(a) for a in dig_list(self.spec, "args"))]

    async def run(self) -> dict[str, Any]:
        """Run the plugin; return its ``status`` (``token`` and/or client certificate data)."""
        api_version = str(self.spec.get("apiVersion") or "client.authentication.k8s.io/v1")
        env = dict(os.environ)
        env.update({str(e["name"]): str(e["value"]) for e in dig_list(self.spec, "env") if "name" in e})
        env["KUBERNETES_EXEC_INFO"] = json.dumps(
            {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
        )
        argv = self.command()
        try:
            done = await anyio.run_process(argv, env=env, check=False, stdin=subprocess.DEVNULL)
        except OSError as e:
            hint = self.spec.get("installHint") or "install it or fix user.exec.command"
            raise KubeConfigError(f"credential plugin {argv[0]!r} cannot run ({e.strerror or e}): {hint}") from e
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip().splitlines()
            raise KubeConfigError(
                f"credential plugin {argv[0]!r} exited with {done.returncode}: {err[-1] if err else 'no message'}"
            )
        try:
            status = json.loads(done.stdout)["status"]
            assert isinstance(status, dict)
        except (ValueError, KeyError, TypeError, AssertionError) as e:
            raise KubeConfigError(f"credential plugin {argv[0]!r} printed no ExecCredential with a status") from e
        self.status = status
        self._token = status.get("token")
        stamp = status.get("expirationTimestamp")
        self._expires = datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp() if stamp else None
        return status

    async def authorization(self) -> str | None:
        stale = self._expires is not None and self.clock() >= self._expires - EXEC_EXPIRY_MARGIN
        if not self.status or (self._token and stale):
            await self.run()
        return f"Bearer {self._token}" if self._token else None


@dataclass
class Configuration:
    """Everything a request needs. ``host`` may be changed after loading (tests point it at a proxy)."""

    host: str
    ssl_context: ssl.SSLContext
    credentials: Credentials = field(default_factory=Credentials)
    tls_server_name: str | None = None
    proxy: str | None = None


def _named(doc: dict[str, Any], section: str, name: str, path: Path) -> dict[str, Any]:
    """The entry ``name`` of ``section`` (clusters, users, contexts) without its wrapper."""
    key = section[:-1]
    for entry in dig_list(doc, section):
        if isinstance(entry, dict) and entry.get("name") == name:
            return dict(dig_map(entry, key))
    raise KubeConfigError(f"kubeconfig {path}: {section} has no entry named {name!r}")


def _file(base: Path, value: Any) -> Path:
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else base / p


def _data(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=False)
    except ValueError as e:
        raise KubeConfigError(f"{what} is not valid base64") from e


def _load_client_cert(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """``load_cert_chain`` reads files only: write both to private temporary files, load, remove."""
    with tempfile.TemporaryDirectory(prefix="aimctl-cert-") as tmp:
        cert_path, key_path = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
        cert_path.write_bytes(cert)
        key_path.touch(mode=0o600)
        key_path.write_bytes(key)
        ctx.load_cert_chain(str(cert_path), str(key_path))


def _ssl_context(cluster: dict[str, Any], base: Path) -> ssl.SSLContext:
    if cluster.get("certificate-authority-data"):
        pem = _data(cluster["certificate-authority-data"], "cluster.certificate-authority-data")
        ctx = ssl.create_default_context(cadata=pem.decode("ascii", errors="replace"))
    elif cluster.get("certificate-authority"):
        ca = _file(base, cluster["certificate-authority"])
        ctx = ssl.create_default_context(cadata=_read(ca, "cluster.certificate-authority").decode("ascii", "replace"))
    else:
        ctx = ssl.create_default_context()
    if cluster.get("insecure-skip-tls-verify"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    # As client-go: Kubernetes CAs made by older tools lack extensions Python's strict mode demands.
    ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return ctx


async def load_kubeconfig(path: Path, context: str | None = None) -> Configuration:
    """The :class:`Configuration` of ``context`` (default: the current one) in the kubeconfig ``path``."""
    try:
        doc = yaml.safe_load(_read(path, "kubeconfig")) or {}
    except yaml.YAMLError as e:
        raise KubeConfigError(f"kubeconfig {path} cannot be read: {str(e).splitlines()[0]}") from e
    if not isinstance(doc, dict):
        raise KubeConfigError(f"kubeconfig {path} is not a kubeconfig (no mapping at the top)")
    name = context or doc.get("current-context")
    if not name:
        raise KubeConfigError(f"kubeconfig {path} has no current-context: pass a context")
    ctx = _named(doc, "contexts", str(name), path)
    cluster = _named(doc, "clusters", str(ctx.get("cluster") or ""), path)
    user = _named(doc, "users", str(ctx.get("user") or ""), path) if ctx.get("user") else {}
    base = path.parent
    server = str(cluster.get("server") or "").rstrip("/")
    if not server:
        raise KubeConfigError(f"kubeconfig {path}: cluster {ctx.get('cluster')!r} has no server URL")
    ssl_context = _ssl_context(cluster, base)

    if user.get("auth-provider"):
        provider = dig_str(user, "auth-provider", "name", default="?")
        raise KubeConfigError(
            f"user {ctx.get('user')!r} uses auth-provider {provider!r}, which aimctl does not support: "
            "use an exec credential plugin (users[].user.exec) instead, as current kubectl does"
        )
    credentials: Credentials = Credentials()
    cert = key = None
    if user.get("client-certificate-data"):
        cert = _data(user["client-certificate-data"], "user.client-certificate-data")
    elif user.get("client-certificate"):
        cert = _read(_file(base, user["client-certificate"]), "user.client-certificate")
    if user.get("client-key-data"):
        key = _data(user["client-key-data"], "user.client-key-data")
    elif user.get("client-key"):
        key = _read(_file(base, user["client-key"]), "user.client-key")
    if user.get("token"):
        credentials = StaticCredentials(f"Bearer {user['token']}")
    elif user.get("tokenFile"):
        credentials = TokenFileCredentials(_file(base, user["tokenFile"]))
        await credentials.authorization()  # fail now, not on the first request
    elif user.get("username") is not None and user.get("password") is not None:
        pair = f"{user['username']}:{user['password']}".encode()
        credentials = StaticCredentials(f"Basic {base64.b64encode(pair).decode()}")
    elif user.get("exec"):
        exec_credentials = ExecCredentials(dict(user["exec"]), base)
        status = await exec_credentials.run()
        if status.get("clientCertificateData") and status.get("clientKeyData"):
            cert, key = str(status["clientCertificateData"]).encode(), str(status["clientKeyData"]).encode()
        credentials = exec_credentials
    if (cert is None) != (key is None):
        raise KubeConfigError(f"user {ctx.get('user')!r} has a client certificate without its key, or a key "
                              "without its certificate: give both")  # fmt: skip
    if cert is not None and key is not None:
        try:
            _load_client_cert(ssl_context, cert, key)
        except ssl.SSLError as e:
            raise KubeConfigError(f"user {ctx.get('user')!r}: client certificate or key unusable: {e}") from e
    return Configuration(
        host=server,
        ssl_context=ssl_context,
        credentials=credentials,
        tls_server_name=cluster.get("tls-server-name") or None,
        proxy=cluster.get("proxy-url") or None,
    )


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise KubeConfigError(f"{what} {path} cannot be read: {e.strerror or e}: fix the path") from e


def load_incluster(account_dir: Path = SERVICE_ACCOUNT_DIR) -> Configuration:
    """The pod's service account: the apiserver from ``KUBERNETES_SERVICE_HOST``/``_PORT``, its CA and
    token from ``account_dir`` (the token re-read every minute)."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST", ""), os.environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise KubeConfigError("not in a cluster: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are unset")
    if ":" in host:  # IPv6
        host = f"[{host}]"
    ca = account_dir / "ca.crt"
    if not ca.exists():
        raise KubeConfigError(f"service account CA {ca} does not exist: mount the service account token")
    credentials = TokenFileCredentials(account_dir / "token")
    credentials.read()
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return Configuration(host=f"https://{host}:{port}", ssl_context=ctx, credentials=credentials)
