"""Structured logs (structlog, JSON by default) that never contain secrets.

Why: operators leak secrets through logs all the time — a spec dumped at debug level with an
``HF_TOKEN`` env value, a bearer token in verbose HTTP logging.
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
    2. **by value** (after rendering): values that *are* secrets are remembered and scrubbed from the
       final line, so the same secret quoted inside an exception message or an apiserver error
       (``Invalid value: "…"``) is also hidden. Remembered: Secret ``data`` (decoded too) and
       ``stringData`` values, values under credential keys, env values whose *name* names a
       credential (``HF_TOKEN``, ``AWS_SECRET_ACCESS_KEY``), and what :func:`register_secret` is given
       (pull-secret credentials, registry tokens). Other env literals (``true``, ``info``, a model
       name) are redacted structurally but not remembered: scrubbing them from every line would damage
       the logs and hide nothing secret.

Cost and memory are bounded: values shorter than :data:`MIN_SECRET_LENGTH` or longer than
:data:`MAX_SECRET_LENGTH` characters are not remembered (too short to scrub without damage; too long to
be quoted in a line), at most :data:`MAX_REMEMBERED` values and :data:`MAX_REMEMBERED_CHARS` characters
are kept (the oldest is forgotten first),
and matching uses an index of each value's first :data:`MIN_SECRET_LENGTH` characters — one dictionary
look-up per character of the line, whatever the number of values, and nothing recompiled when a value
is added.

Caveat: a secret that reaches the logs only as free text and was never seen structurally (nor
registered) cannot be recognised; nor can a secret env literal under a name that does not look like
a credential (use ``valueFrom.secretKeyRef``: the value then never appears in a spec).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import sys
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 8
MAX_SECRET_LENGTH = 8192
MAX_REMEMBERED = 10_000
MAX_REMEMBERED_CHARS = 4 << 20

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
_CREDENTIAL_SUFFIXES = ("token", "password", "secret", "apikey", "privatekey", "accesskey", "secretkey")
_ENV_KEYS = frozenset({"name", "value", "valueFrom"})


def is_credential_key(key: str) -> bool:
    k = key.replace("-", "").replace("_", "").lower()
    return k in _CREDENTIAL_KEYS or k.endswith(_CREDENTIAL_SUFFIXES)


class SecretScrubber:
    """The two redaction layers; one process-wide instance lives in :data:`SCRUBBER`."""

    def __init__(self, max_values: int = MAX_REMEMBERED) -> None:
        self.max_values = max_values
        #: Remembered values (insertion order: the first is the oldest). An OrderedDict: dropping the
        #: oldest is O(1) there, while a plain dict's first key gets slower to find after many deletions.
        self._values: OrderedDict[str, None] = OrderedDict()
        #: First MIN_SECRET_LENGTH characters → the remembered values (and their JSON-escaped forms)
        #: starting with them, grouped by length.
        self._index: dict[str, _Bucket] = {}
        self._chars = 0

    def register(self, value: str) -> None:
        """Remember ``value`` so it is scrubbed from every rendered line."""
        if not MIN_SECRET_LENGTH <= len(value) <= MAX_SECRET_LENGTH or value in self._values:
            return
        while self._values and (
            len(self._values) >= self.max_values or self._chars + len(value) > MAX_REMEMBERED_CHARS
        ):
            self._forget(self._values.popitem(last=False)[0])
        self._values[value] = None
        self._chars += len(value)
        for form in _forms(value):
            self._index.setdefault(form[:MIN_SECRET_LENGTH], _Bucket()).add(form)

    def _forget(self, value: str) -> None:
        self._chars -= len(value)
        for form in _forms(value):
            bucket = self._index.get(form[:MIN_SECRET_LENGTH])
            if bucket is not None and bucket.remove(form):
                del self._index[form[:MIN_SECRET_LENGTH]]

    def clear(self) -> None:
        self._values.clear()
        self._index.clear()
        self._chars = 0

    def __len__(self) -> int:
        return len(self._values)

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
            if is_credential_key(str(value["name"])):
                self._remember(value["value"])
            return {**{k: self.redact(v) for k, v in value.items() if k != "value"}, "value": REDACTED}
        is_secret = value.get("kind") == "Secret"
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if is_secret and k in ("data", "stringData") and isinstance(v, Mapping):
                for secret_value in v.values():
                    self._remember(secret_value)
                    if k == "data" and isinstance(secret_value, str):
                        self._remember(_b64decode(secret_value))
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
        index = self._index
        if not index or len(text) < MIN_SECRET_LENGTH:
            return text
        out: list[str] = []
        start = i = 0
        last = len(text) - MIN_SECRET_LENGTH
        while i <= last:
            bucket = index.get(text[i : i + MIN_SECRET_LENGTH])
            if bucket is not None:
                length = bucket.match(text, i)
                if length:
                    out.append(text[start:i])
                    out.append(REDACTED)
                    i = start = i + length
                    continue
            i += 1
        if not out:
            return text
        out.append(text[start:])
        return "".join(out)

    # structlog processor (layer 1)
    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        return {k: self.redact(v, k) if k != "event" else v for k, v in event_dict.items()}


class _Bucket:
    """Remembered values sharing their first characters, by length (longest tried first)."""

    __slots__ = ("by_length", "lengths")

    def __init__(self) -> None:
        self.by_length: dict[int, set[str]] = {}
        self.lengths: list[int] = []  # descending

    def add(self, form: str) -> None:
        n = len(form)
        if n not in self.by_length:
            self.by_length[n] = set()
            self.lengths = sorted(self.by_length, reverse=True)
        self.by_length[n].add(form)

    def remove(self, form: str) -> bool:
        """Forget ``form``; whether the bucket is now empty."""
        forms = self.by_length.get(len(form))
        if forms is not None:
            forms.discard(form)
            if not forms:
                del self.by_length[len(form)]
                self.lengths = sorted(self.by_length, reverse=True)
        return not self.by_length

    def match(self, text: str, at: int) -> int:
        """The length of the longest remembered form at ``text[at:]``, or 0."""
        for n in self.lengths:
            if text[at : at + n] in self.by_length[n]:
                return n
        return 0


def _forms(value: str) -> tuple[str, ...]:
    """``value`` and, when different, its JSON-escaped form (JSON rendering escapes some characters)."""
    escaped = _json_escaped(value)
    return (value,) if escaped == value or len(escaped) < MIN_SECRET_LENGTH else (value, escaped)


def _b64decode(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return ""


def _json_escaped(value: str) -> str:
    return json.dumps(value)[1:-1]


SCRUBBER = SecretScrubber()
"""The process-wide scrubber used by :func:`configure_logging`."""


def register_secret(value: str) -> None:
    """Make sure ``value`` never appears in a log line (e.g. a token read from a Secret)."""
    SCRUBBER.register(value)


def register_env_secrets(env: Any) -> None:
    """Remember the literal values of the env entries in ``env`` (a spec's ``env`` list) whose name
    names a credential (``HF_TOKEN``…); other literals are not secrets (see the module docstring)."""
    for entry in env or []:
        value = entry.get("value") if isinstance(entry, Mapping) else None
        if isinstance(value, str) and is_credential_key(str(entry.get("name") or "")):
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
