"""Reading an image's OCI config labels from its registry (the distribution HTTP API v2).

``GET /v2/<repo>/manifests/<tag|digest>`` (an index or manifest list resolves to its linux/amd64
entry, or its only entry) → the config descriptor → ``GET /v2/<repo>/blobs/<digest>`` → the config's
``config.Labels``. Nothing else is downloaded.

Authentication (what registries actually ask for, in ``WWW-Authenticate``):

* ``Bearer realm=…,service=…,scope=…``: a token is fetched from the realm, with Basic credentials when
  some are configured (anonymous otherwise), and the request is retried with it;
* ``Basic``: the request is retried with the credentials.

Every request has a timeout (``total`` per request, 10 s to connect); blob redirects are followed
without forwarding the registry's ``Authorization`` header. Failures are classified
(:mod:`aimctl.oci.errors`); messages name the registry and repository, never credentials.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from typing import Any

import aiohttp
from yarl import URL

from aimctl.oci.credentials import Credentials
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
MAX_DOCUMENT_BYTES = 4 << 20
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``WWW-Authenticate`` → (scheme lower-cased, parameters)."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(rest))


class RegistryClient:
    """Fetches image config labels; one instance can be shared (it holds no connection)."""

    def __init__(
        self, timeout: float = 30.0, connect_timeout: float = 10.0, mirrors: dict[str, str] | None = None
    ) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=connect_timeout)
        #: registry host → mirror host; default: ``$AIMCTL_REGISTRY_MIRRORS`` (see :func:`parse_mirrors`).
        self.mirrors = mirrors if mirrors is not None else parse_mirrors(os.environ.get(MIRRORS_ENV, ""))

    async def labels(self, ref: ImageReference, credentials: Credentials | None = None) -> dict[str, str]:
        """The config labels of ``ref`` (an empty dict when the image has none), read through the
        registry's mirror when one is configured."""
        ref = mirrored(ref, self.mirrors)
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as session:
                return await _Session(session, ref, credentials).labels()
        except RegistryError:
            raise
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            raise TransientRegistryError(f"registry {ref.registry} unreachable: {type(err).__name__}: {err}") from err


class _Session:
    def __init__(self, session: aiohttp.ClientSession, ref: ImageReference, credentials: Credentials | None) -> None:
        self.session = session
        self.ref = ref
        self.credentials = credentials
        self.authorization: str | None = None

    async def labels(self) -> dict[str, str]:
        manifest = await self._manifest(self.ref.reference)
        media = manifest.get("mediaType") or ""
        if media in (OCI_INDEX, DOCKER_LIST) or ("manifests" in manifest and "config" not in manifest):
            manifest = await self._manifest(self._pick_platform(manifest))
        config = manifest.get("config") or {}
        digest = config.get("digest")
        if not isinstance(digest, str):
            raise InvalidImageError(f"{self.ref}: the manifest has no config descriptor")
        blob = await self._document(f"/v2/{self.ref.repository}/blobs/{digest}", "*/*", blob=True)
        labels = (blob.get("config") or {}).get("Labels") or {}
        if not isinstance(labels, dict):
            raise InvalidImageError(f"{self.ref}: config labels are not a map")
        return {str(k): str(v) for k, v in labels.items()}

    def _pick_platform(self, index: Mapping[str, Any]) -> str:
        entries = [m for m in index.get("manifests") or [] if isinstance(m, dict) and m.get("digest")]
        for m in entries:
            platform = m.get("platform") or {}
            if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
                return str(m["digest"])
        if len(entries) == 1:
            return str(entries[0]["digest"])
        raise InvalidImageError(f"{self.ref}: the image index has no linux/amd64 manifest")

    async def _manifest(self, reference: str) -> dict[str, Any]:
        return await self._document(f"/v2/{self.ref.repository}/manifests/{reference}", ACCEPT)

    async def _document(self, path: str, accept: str, blob: bool = False) -> dict[str, Any]:
        url = self.ref.base_url + path
        resp = await self._get(url, accept, blob)
        try:
            raw = await resp.content.read(MAX_DOCUMENT_BYTES + 1)
        finally:
            resp.release()
        if len(raw) > MAX_DOCUMENT_BYTES:
            raise InvalidImageError(f"{self.ref}: {path} is larger than {MAX_DOCUMENT_BYTES} bytes")
        try:
            doc = json.loads(raw)
        except ValueError as err:
            raise InvalidImageError(f"{self.ref}: {path} is not JSON") from err
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
        if blob and resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
            location = str(resp.url.join(URL(resp.headers["Location"])))
            resp.release()
            resp = await self.session.get(location, headers={"Accept": accept})
        if resp.status < 300:
            return resp
        status, detail = resp.status, await _detail(resp)
        resp.release()
        where = f"{self.ref.registry}/{self.ref.repository}"
        if status in (401, 403):
            who = "the configured credentials" if self.credentials else "anonymous access"
            raise RegistryAuthError(f"registry {self.ref.registry} refused {who} for {where} ({status}){detail}")
        if status == 404:
            raise ImageNotFoundError(f"{self.ref} not found in registry ({status}){detail}")
        if status == 429 or status >= 500:
            raise TransientRegistryError(f"registry {self.ref.registry} answered {status}{detail}")
        raise InvalidImageError(f"registry {self.ref.registry} answered {status} for {where}{detail}")

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
        query = {"service": params.get("service", "")} if params.get("service") else {}
        scope = params.get("scope") or f"repository:{self.ref.repository}:pull"
        headers = {"Authorization": _basic(creds)} if creds else {}
        async with self.session.get(params["realm"], params={**query, "scope": scope}, headers=headers) as resp:
            if resp.status in (401, 403):
                raise RegistryAuthError(
                    f"token service of registry {self.ref.registry} refused "
                    f"{'the configured credentials' if creds else 'anonymous access'} ({resp.status})"
                )
            if resp.status == 429 or resp.status >= 500:
                raise TransientRegistryError(f"token service of registry {self.ref.registry} answered {resp.status}")
            if resp.status >= 300:
                raise RegistryAuthError(f"token service of registry {self.ref.registry} answered {resp.status}")
            try:
                body = json.loads(await resp.content.read(MAX_DOCUMENT_BYTES))
            except ValueError as err:
                raise RegistryAuthError(f"token service of registry {self.ref.registry} sent no JSON") from err
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise RegistryAuthError(f"token service of registry {self.ref.registry} sent no token")
        self.authorization = f"Bearer {token}"


def _basic(creds: Credentials) -> str:
    return "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()


async def _detail(resp: aiohttp.ClientResponse) -> str:
    """The first registry error message of an error response, as ``: message`` (or empty)."""
    try:
        body = json.loads(await resp.content.read(65536))
        first = (body.get("errors") or [{}])[0]
        text = str(first.get("message") or first.get("code") or "")
    except (ValueError, AttributeError, IndexError, aiohttp.ClientError):
        return ""
    return f": {text[:200]}" if text else ""
