"""Structured logs (structlog, JSON by default) that never contain secrets.

Why: operators leak secrets through logs all the time — a spec dumped at debug level with an
``HF_TOKEN`` env value, a bearer token in verbose HTTP logging (perf-reliability-anchors.md §3.9).
AIM specs carry exactly such values (``spec.env`` of services, caches and templates holds registry
tokens), so redaction is part of the logging pipeline, not left to each call site.

Every log line carries the context bound with :func:`structlog.contextvars` — the manager binds
``controller``, ``namespace``, ``name`` and ``reconcile_id`` around each reconcile.

Redaction, two layers:
    1. **structural** (before rendering): in every value logged, at any depth,
       * the ``value`` of an env-var entry (a mapping with ``name`` and ``value`` and nothing but
         ``valueFrom`` besides),
       * every value under ``data`` / ``stringData`` of an object whose ``kind`` is ``Secret``,
       * the value of any key that names a credential (``token``, ``password``, ``secret``,
         ``authorization``, ``apiKey``, ``*Token``, ``*Password``, ``*Secret``…, but not
         ``secretName``-style references),
       is replaced by ``[REDACTED]``;
    2. **by value** (after rendering): every value redacted by layer 1 is remembered (up to
       :data:`MAX_REMEMBERED` values of at least :data:`MIN_SECRET_LENGTH` characters) and scrubbed from
       the final line, so the same secret quoted inside an exception message or an apiserver error
       (``Invalid value: "…"``) is also hidden. :func:`register_secret` adds values explicitly.

Caveat: a secret that reaches the logs only as free text and was never seen structurally (nor
registered) cannot be recognised.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 4
MAX_REMEMBERED = 10_000

_CREDENTIAL_KEYS = frozenset(
    {
        "token",
        "password",
        "passwd",
        "secret",
        "authorization",
        "apikey",
        "bearertoken",
        "accesstoken",
        "refreshtoken",
        "clientsecret",
        "privatekey",
        "credentials",
        "credential",
    }
)
_CREDENTIAL_SUFFIXES = ("token", "password", "secret", "apikey", "privatekey")
_ENV_KEYS = frozenset({"name", "value", "valueFrom"})


def is_credential_key(key: str) -> bool:
    k = key.replace("-", "").replace("_", "").lower()
    return k in _CREDENTIAL_KEYS or k.endswith(_CREDENTIAL_SUFFIXES)


class SecretScrubber:
    """The two redaction layers; one process-wide instance lives in :data:`SCRUBBER`."""

    def __init__(self, max_values: int = MAX_REMEMBERED) -> None:
        self.max_values = max_values
        self._values: dict[str, None] = {}
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str) -> None:
        """Remember ``value`` so it is scrubbed from every rendered line."""
        if len(value) < MIN_SECRET_LENGTH or value in self._values:
            return
        if len(self._values) >= self.max_values:
            self._values.pop(next(iter(self._values)))
        self._values[value] = None
        self._pattern = None

    def clear(self) -> None:
        self._values.clear()
        self._pattern = None

    def redact(self, value: Any, key: str | None = None) -> Any:
        """Return ``value`` with layer-1 redactions applied (a copy; the input is not modified)."""
        if key is not None and is_credential_key(key) and isinstance(value, str | bytes | int):
            self._remember(value)
            return REDACTED
        if isinstance(value, Mapping):
            return self._redact_mapping(value)
        if isinstance(value, list | tuple):
            return [self.redact(v) for v in value]
        return value

    def _redact_mapping(self, value: Mapping[Any, Any]) -> dict[Any, Any]:
        keys = set(value)
        if "name" in keys and "value" in keys and keys <= _ENV_KEYS:
            self._remember(value["value"])
            return {**{k: self.redact(v) for k, v in value.items() if k != "value"}, "value": REDACTED}
        is_secret = value.get("kind") == "Secret"
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if is_secret and k in ("data", "stringData") and isinstance(v, Mapping):
                for secret_value in v.values():
                    self._remember(secret_value)
                out[k] = dict.fromkeys(v, REDACTED)
            else:
                out[k] = self.redact(v, str(k))
        return out

    def _remember(self, value: Any) -> None:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str | int) and not isinstance(value, bool):
            self.register(str(value))

    def scrub_text(self, text: str) -> str:
        """Replace every remembered value in ``text`` (layer 2)."""
        if not self._values:
            return text
        if self._pattern is None:
            alternatives = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in alternatives))
            # JSON rendering escapes some characters; match those forms too.
            escaped = [e for v in alternatives if (e := _json_escaped(v)) != v]
            if escaped:
                self._pattern = re.compile(
                    "|".join(re.escape(v) for v in sorted(alternatives + escaped, key=len, reverse=True))
                )
        return self._pattern.sub(REDACTED, text)

    # structlog processor (layer 1)
    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        return {k: self.redact(v, k) if k != "event" else v for k, v in event_dict.items()}


def _json_escaped(value: str) -> str:
    return json.dumps(value)[1:-1]


SCRUBBER = SecretScrubber()
"""The process-wide scrubber used by :func:`configure_logging`."""


def register_secret(value: str) -> None:
    """Make sure ``value`` never appears in a log line (e.g. a token read from a Secret)."""
    SCRUBBER.register(value)


class ScrubbingRenderer:
    """Renders with ``inner`` (JSON or console), then scrubs remembered secrets from the text."""

    def __init__(self, inner: Processor, scrubber: SecretScrubber) -> None:
        self.inner = inner
        self.scrubber = scrubber

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> str:
        rendered = self.inner(logger, method_name, event_dict)
        text = rendered.decode() if isinstance(rendered, bytes) else str(rendered)
        return self.scrubber.scrub_text(text)


def processors(fmt: str, scrubber: SecretScrubber = SCRUBBER) -> list[Processor]:
    """The processor chain (also used for stdlib records, so library logs are redacted too)."""
    renderer: Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=False, default=str)
    elif fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        raise ValueError(f"unknown log format {fmt!r} (json or console)")
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        scrubber,
        ScrubbingRenderer(renderer, scrubber),
    ]


def configure_logging(level: str = "info", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Configure structlog and route the standard library's logging through the same chain.

    ``level`` is one of debug, info, warning, error; ``fmt`` is ``json`` (default) or ``console``.
    Lines go to ``stream`` (stderr by default). The REST layer of kubernetes_asyncio logs response
    bodies at debug level; its logger is pinned to WARNING whatever ``level`` says.
    """
    numeric = logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        raise ValueError(f"unknown log level {level!r}")
    out = stream or sys.stderr
    chain = processors(fmt)
    structlog.configure(
        processors=chain,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *chain[:-2]],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *chain[-2:]],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for noisy in ("kubernetes_asyncio", "kubernetes_asyncio.client.rest", "aiohttp.access", "transitions"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))


def bind_reconcile(controller: str, namespace: str | None, name: str, reconcile_id: str) -> MutableMapping[str, Any]:
    """The context fields bound around one reconcile (see :func:`structlog.contextvars.bound_contextvars`)."""
    return {"controller": controller, "namespace": namespace or "", "name": name, "reconcile_id": reconcile_id}
