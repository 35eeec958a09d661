"""Reading an image's OCI config labels from its registry (the distribution HTTP API v2).

``GET /v2/<repo>/manifests/<tag|digest>`` (an index or manifest list resolves to its linux/amd64
entry, or its only entry) → the config descriptor → ``GET /v2/<repo>/blobs/<digest>`` → the config's
``config.Labels``. Nothing else is downloaded.

Authentication (what registries actually ask for, in ``WWW-Authenticate``):

* ``Bearer realm=…,service=…,scope=…``: a token is fetched from the realm, with Basic credentials when
  some are configured (anonymous otherwise), and the request is retried with it;
* ``Basic``: the request is retried with the credentials.

What a registry (possibly hostile: image references are tenant input) can make the client do is
restricted to what the distribution spec needs:

* credentials (Basic, or a bearer token) are only sent to the registry they belong to
  (:attr:`Credentials.registry`, matched on the host actually contacted, so a mirror never receives
  the upstream registry's credentials), and over plain HTTP only when the registry itself is
  insecure (:attr:`ImageReference.insecure`);
* a bearer ``realm`` must be HTTPS (HTTP only for an insecure registry); Basic credentials go to it
  only when it is on the registry's own site (same host, or the same registrable domain: Docker
  Hub's ``auth.docker.io`` for ``registry-1.docker.io``, ``gitlab.com`` for ``registry.gitlab.com``);
  any other realm is asked anonymously. The token is sent to the registry only;
* blob redirects (to a CDN or object store) are followed without any credentials, at most
  :data:`MAX_REDIRECTS` hops, HTTPS only (HTTP only for an insecure registry); no cookies are kept;
* bodies are read to the end under a size cap (:data:`MAX_MANIFEST_BYTES`, :data:`MAX_CONFIG_BYTES`,
  :data:`MAX_TOKEN_BYTES`), whatever the chunking; JSON nested too deeply is an invalid image;
* every request has a timeout (``total`` per request, 10 s to connect) and a whole inspection has
  one too (``inspection_timeout``, 60 s by default), so a registry that trickles bytes cannot hold a
  worker for longer.

Failures are classified (:mod:`aimctl.oci.errors`); messages name the registry and repository, never
credentials.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from typing import Any

import aiohttp
import anyio
from yarl import URL

from aimctl.kube.objects import dig, dig_list, dig_map
from aimctl.logging import register_secret
from aimctl.oci.credentials import Credentials, normalise_host
from aimctl.oci.errors import (
    ImageNotFoundError,
    InvalidImageError,
    RegistryAuthError,
    RegistryError,
    TransientRegistryError,
)
from aimctl.oci.reference import MIRRORS_ENV, ImageReference, mirrored, parse_mirrors

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])
#: Largest manifest or index accepted (the distribution spec asks registries to accept 4 MiB).
MAX_MANIFEST_BYTES = 4 << 20
#: Largest image config accepted (real ones are a few KiB to a few hundred KiB).
MAX_CONFIG_BYTES = 4 << 20
#: Largest token-service answer accepted.
MAX_TOKEN_BYTES = 256 << 10
#: Largest error body read (for its message).
MAX_ERROR_BYTES = 64 << 10
#: Kept for callers of the former single cap.
MAX_DOCUMENT_BYTES = MAX_MANIFEST_BYTES
#: Blob redirects followed at most.
MAX_REDIRECTS = 5
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``WWW-Authenticate`` → (scheme lower-cased, parameters)."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(rest))


class RegistryClient:
    """Fetches image config labels; one instance can be shared (it holds no connection)."""

    def __init__(
        self,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        mirrors: dict[str, str] | None = None,
        inspection_timeout: float = 60.0,
    ) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=connect_timeout)
        self.inspection_timeout = inspection_timeout
        #: registry host → mirror host; default: ``$AIMCTL_REGISTRY_MIRRORS`` (see :func:`parse_mirrors`).
        self.mirrors = mirrors if mirrors is not None else parse_mirrors(os.environ.get(MIRRORS_ENV, ""))

    def registry_for(self, ref: ImageReference) -> str:
        """The host :meth:`labels` contacts for ``ref`` (its mirror, if one is configured): the host
        whose credentials to pass."""
        return mirrored(ref, self.mirrors).registry

    async def labels(self, ref: ImageReference, credentials: Credentials | None = None) -> dict[str, str]:
        """The config labels of ``ref`` (an empty dict when the image has none), read through the
        registry's mirror when one is configured. ``credentials`` are used only if they belong to the
        host contacted (see the module docstring)."""
        ref = mirrored(ref, self.mirrors)
        if credentials is not None and credentials.registry and credentials.registry != normalise_host(ref.registry):
            credentials = None  # they belong to another host (e.g. the upstream of a mirror)
        try:
            with anyio.fail_after(self.inspection_timeout):
                async with aiohttp.ClientSession(timeout=self.timeout, cookie_jar=aiohttp.DummyCookieJar()) as session:
                    return await _Session(session, ref, credentials).labels()
        except RegistryError:
            raise
        except TimeoutError as err:
            raise TransientRegistryError(
                f"registry {ref.registry} did not answer in time (an inspection may take {self.inspection_timeout:g} s)"
            ) from err
        except (aiohttp.ClientError, OSError) as err:
            raise TransientRegistryError(f"registry {ref.registry} unreachable: {type(err).__name__}: {err}") from err


class _Session:
    def __init__(self, session: aiohttp.ClientSession, ref: ImageReference, credentials: Credentials | None) -> None:
        self.session = session
        self.ref = ref
        self.credentials = credentials
        self.authorization: str | None = None
        #: Credentials were configured but not sent to the token realm (another site).
        self.withheld = False

    async def labels(self) -> dict[str, str]:
        manifest = await self._manifest(self.ref.reference)
        media = manifest.get("mediaType") or ""
        if media in (OCI_INDEX, DOCKER_LIST) or ("manifests" in manifest and "config" not in manifest):
            manifest = await self._manifest(self._pick_platform(manifest))
        digest = dig(manifest, "config", "digest")
        if not isinstance(digest, str):
            raise InvalidImageError(f"{self.ref}: the manifest has no config descriptor")
        blob = await self._document(f"/v2/{self.ref.repository}/blobs/{digest}", "*/*", MAX_CONFIG_BYTES, blob=True)
        labels = dig(blob, "config", "Labels") or {}
        if not isinstance(labels, dict):
            raise InvalidImageError(f"{self.ref}: config labels are not a map")
        return {str(k): str(v) for k, v in labels.items()}

    def _pick_platform(self, index: Mapping[str, Any]) -> str:
        entries = [m for m in dig_list(index, "manifests") if isinstance(m, dict) and m.get("digest")]
        for m in entries:
            platform = dig_map(m, "platform")
            if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
                return str(m["digest"])
        if len(entries) == 1:
            return str(entries[0]["digest"])
        raise InvalidImageError(f"{self.ref}: the image index has no linux/amd64 manifest")

    async def _manifest(self, reference: str) -> dict[str, Any]:
        return await self._document(f"/v2/{self.ref.repository}/manifests/{reference}", ACCEPT, MAX_MANIFEST_BYTES)

    async def _document(self, path: str, accept: str, cap: int, blob: bool = False) -> dict[str, Any]:
        url = self.ref.base_url + path
        resp = await self._get(url, accept, blob)
        try:
            raw = await read_capped(resp, cap)
        except _TooLarge:
            raise InvalidImageError(f"{self.ref}: {path} is larger than {cap} bytes") from None
        finally:
            resp.release()
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError) as err:
            raise InvalidImageError(f"{self.ref}: {path} is not JSON (or nested too deeply)") from err
        if not isinstance(doc, dict):
            raise InvalidImageError(f"{self.ref}: {path} is not a JSON object")
        return doc

    async def _get(self, url: str, accept: str, blob: bool) -> aiohttp.ClientResponse:
        resp = await self._send(url, accept)
        if resp.status == 401:
            challenge = resp.headers.get("WWW-Authenticate", "")
            resp.release()
            await self._authenticate(challenge)
            resp = await self._send(url, accept)
        hops = 0
        while blob and resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
            location = resp.url.join(URL(resp.headers["Location"]))
            resp.release()
            hops += 1
            if hops > MAX_REDIRECTS:
                raise InvalidImageError(
                    f"registry {self.ref.registry} redirected a blob more than {MAX_REDIRECTS} times"
                )
            self._check_scheme(location, "a blob redirect")
            # Storage (a CDN, an object store) gets no credentials of the registry.
            resp = await self.session.get(location, headers={"Accept": accept}, allow_redirects=False)
        if resp.status < 300:
            return resp
        status, detail = resp.status, await _detail(resp)
        resp.release()
        where = f"{self.ref.registry}/{self.ref.repository}"
        if status in (401, 403):
            who = "the configured credentials" if self.credentials else "anonymous access"
            if self.withheld:
                who = "anonymous access (the configured credentials are not sent to a token service on another site)"
            raise RegistryAuthError(f"registry {self.ref.registry} refused {who} for {where} ({status}){detail}")
        if status == 404:
            raise ImageNotFoundError(f"{self.ref} not found in registry ({status}){detail}")
        if status == 429 or status >= 500:
            raise TransientRegistryError(f"registry {self.ref.registry} answered {status}{detail}")
        raise InvalidImageError(f"registry {self.ref.registry} answered {status} for {where}{detail}")

    def _check_scheme(self, url: URL, what: str) -> None:
        """HTTPS only — plain HTTP only when the registry itself is insecure (loopback)."""
        allowed = ("https", "http") if self.ref.insecure else ("https",)
        if url.scheme not in allowed:
            raise InvalidImageError(
                f"registry {self.ref.registry} sent {what} to {url.scheme}://{url.host}: only "
                f"{' or '.join(allowed)} is followed for this registry"
            )

    async def _send(self, url: str, accept: str) -> aiohttp.ClientResponse:
        headers = {"Accept": accept}
        if self.authorization:
            headers["Authorization"] = self.authorization
        return await self.session.get(url, headers=headers, allow_redirects=False)

    async def _authenticate(self, challenge: str) -> None:
        scheme, params = parse_challenge(challenge)
        creds = self.credentials
        if scheme == "basic":
            if creds is None:
                raise RegistryAuthError(
                    f"registry {self.ref.registry} requires credentials for {self.ref.repository} and none are "
                    "configured (imagePullSecrets of the runtime config)"
                )
            self.authorization = _basic(creds)
            return
        if scheme != "bearer" or not params.get("realm"):
            raise RegistryAuthError(f"registry {self.ref.registry} asks for unsupported authentication {scheme!r}")
        realm = URL(params["realm"])
        if realm.scheme not in ("https", "http") or not realm.host:
            raise RegistryAuthError(f"registry {self.ref.registry} names an unusable token realm")
        if realm.scheme != "https" and not self.ref.insecure:
            raise RegistryAuthError(
                f"registry {self.ref.registry} asks for a token over plain HTTP ({realm.host}): refused, tokens are "
                "fetched over HTTPS only"
            )
        query = {"service": params.get("service", "")} if params.get("service") else {}
        scope = params.get("scope") or f"repository:{self.ref.repository}:pull"
        send_creds = creds is not None and same_site(realm, self.ref.registry)
        self.withheld = creds is not None and not send_creds
        headers = {"Authorization": _basic(creds)} if creds is not None and send_creds else {}
        async with self.session.get(
            realm.with_query({**query, "scope": scope}), headers=headers, allow_redirects=False
        ) as resp:
            who = "the configured credentials" if send_creds else "anonymous access"
            if resp.status in (401, 403):
                raise RegistryAuthError(f"token service of registry {self.ref.registry} refused {who} ({resp.status})")
            if resp.status == 429 or resp.status >= 500:
                raise TransientRegistryError(f"token service of registry {self.ref.registry} answered {resp.status}")
            if resp.status >= 300:
                raise RegistryAuthError(f"token service of registry {self.ref.registry} answered {resp.status}")
            try:
                body = json.loads(await read_capped(resp, MAX_TOKEN_BYTES))
            except _TooLarge:
                raise RegistryAuthError(
                    f"token service of registry {self.ref.registry} sent more than {MAX_TOKEN_BYTES} bytes"
                ) from None
            except (ValueError, RecursionError) as err:
                raise RegistryAuthError(f"token service of registry {self.ref.registry} sent no JSON") from err
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not token or not isinstance(token, str):
            raise RegistryAuthError(f"token service of registry {self.ref.registry} sent no token")
        register_secret(token)
        self.authorization = f"Bearer {token}"


class _TooLarge(Exception):
    pass


async def read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    """The whole body of ``resp`` (read to EOF, however it is chunked), or :class:`_TooLarge` as soon
    as it is known to exceed ``cap`` bytes (from ``Content-Length`` or while reading)."""
    length = resp.content_length
    if length is not None and length > cap:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(64 << 10):
        size += len(chunk)
        if size > cap:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _site(host: str) -> str:
    """The registrable part of ``host`` (heuristic, no public-suffix list): the last two labels, or
    three when the second-level label looks like a public suffix (``co.uk``, ``com.au``); IP
    addresses and single-label hosts are their own site."""
    labels = host.lower().rstrip(".").split(".")
    if len(labels) <= 2 or all(p.isdigit() for p in labels) or host.startswith("["):
        return host.lower()
    keep = 3 if len(labels[-1]) == 2 and len(labels[-2]) <= 3 else 2
    return ".".join(labels[-keep:])


def same_site(url: URL, registry: str) -> bool:
    """Whether ``url`` is on the registry's own host or site (where its credentials may go)."""
    reg_host = URL(f"//{registry}").host or registry
    host = url.host or ""
    if host.lower() == reg_host.lower():
        return True
    return _site(host) == _site(reg_host) and not host.replace(".", "").isdigit()


def _basic(creds: Credentials) -> str:
    return "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()


async def _detail(resp: aiohttp.ClientResponse) -> str:
    """The first registry error message of an error response, as ``: message`` (or empty)."""
    try:
        body = json.loads(await read_capped(resp, MAX_ERROR_BYTES))
        first = (body.get("errors") or [{}])[0]
        text = str(first.get("message") or first.get("code") or "")
    except (ValueError, AttributeError, IndexError, TypeError, RecursionError, _TooLarge, aiohttp.ClientError):
        return ""
    return f": {text[:200]}" if text else ""
