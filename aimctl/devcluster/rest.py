"""A minimal synchronous HTTPS client for bootstrapping the development cluster.

Cluster start-up runs before (and outside) any event loop, from the CLI, from a pytest fixture via a
worker thread, or from a benchmark, so it uses the standard library instead of the operator's async
client. It authenticates with the admin client certificate and verifies the apiserver against the CA.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class RestError(RuntimeError):
    """A request failed; ``status`` is the HTTP code (0 when the server was unreachable)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Rest:
    """Requests to one apiserver as the admin user."""

    def __init__(self, server: str, ca: Path, cert: Path, key: Path, timeout: float = 10.0) -> None:
        self.server = server.rstrip("/")
        self.timeout = timeout
        self._ctx = ssl.create_default_context(cafile=str(ca))
        self._ctx.load_cert_chain(str(cert), str(key))

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        """Send one request; return the decoded JSON body (or text); raise :class:`RestError` otherwise."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        req.add_header("Accept", "application/json")
        try:
            with urllib.request.urlopen(req, context=self._ctx, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")[:2000]
            raise RestError(e.code, f"{method} {path}: HTTP {e.code}: {detail}") from e
        except (urllib.error.URLError, OSError) as e:
            raise RestError(0, f"{method} {path}: {e}") from e
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode(errors="replace")

    def apply(self, path: str, manifest: dict[str, Any], field_manager: str = "aimctl-dev") -> Any:
        """Server-side apply ``manifest`` at ``path`` (the object's URL), forcing ownership."""
        return self.request(
            "PATCH",
            f"{path}?fieldManager={field_manager}&force=true",
            manifest,
            content_type="application/apply-patch+yaml",
        )
