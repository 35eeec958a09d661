"""Secrets never reach the logs: structural redaction and the by-value scrubber."""

from __future__ import annotations

import io
import json
import logging

import structlog

from aimctl.logging import REDACTED, SCRUBBER, SecretScrubber, configure_logging, is_credential_key

TOKEN = "hf_s3cr3t_T0KEN_value"


def test_env_entries_are_redacted_at_any_depth() -> None:
    s = SecretScrubber()
    spec = {
        "spec": {
            "env": [
                {"name": "HF_TOKEN", "value": TOKEN},
                {"name": "FROM", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            ]
        }
    }
    out = s.redact(spec)
    assert out["spec"]["env"][0] == {"name": "HF_TOKEN", "value": REDACTED}
    assert out["spec"]["env"][1] == spec["spec"]["env"][1], "references are not secrets"
    assert spec["spec"]["env"][0]["value"] == TOKEN, "the input is not modified"
    assert s.scrub_text(f'Invalid value: "{TOKEN}"') == f'Invalid value: "{REDACTED}"'


def test_secret_objects_and_credential_keys() -> None:
    s = SecretScrubber()
    secret = {
        "kind": "Secret",
        "metadata": {"name": "x"},
        "data": {"token": "c2VjcmV0dmFsdWU="},
        "stringData": {"pw": "hunter22"},
    }
    out = s.redact(secret)
    assert out["data"] == {"token": REDACTED}
    assert out["stringData"] == {"pw": REDACTED}
    assert out["metadata"] == {"name": "x"}
    assert s.redact({"authorization": "Bearer abc.def", "secretName": "my-secret", "hfToken": "zzzz"}) == {
        "authorization": REDACTED,
        "secretName": "my-secret",
        "hfToken": REDACTED,
    }
    assert is_credential_key("HF_TOKEN") and is_credential_key("client-secret")
    assert not is_credential_key("secretRef") and not is_credential_key("tokenSecretName")


def test_short_values_are_not_remembered() -> None:
    s = SecretScrubber()
    s.redact({"name": "X", "value": "1"})
    assert s.scrub_text("a 1 b") == "a 1 b"


def test_configured_pipeline_hides_secrets_in_fields_exceptions_and_stdlib_logs() -> None:
    buf = io.StringIO()
    SCRUBBER.clear()
    configure_logging("debug", "json", stream=buf)
    try:
        log = structlog.get_logger("t")
        with structlog.contextvars.bound_contextvars(controller="c", namespace="ns", name="n", reconcile_id="r"):
            log.debug("observed", obj={"spec": {"env": [{"name": "HF_TOKEN", "value": TOKEN}]}})
            try:
                raise ValueError(f"apiserver said: spec.env[0].value: Invalid value: {TOKEN!r}")
            except ValueError:
                log.exception("reconcile failed")
        logging.getLogger("some.library").warning("request body %s", json.dumps({"value": TOKEN}))
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    text = buf.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 3
    assert TOKEN not in text
    assert lines[0]["controller"] == "c" and lines[0]["reconcile_id"] == "r"
    assert REDACTED in lines[1]["exception"]
    assert lines[2]["event"] == 'request body {"value": "[REDACTED]"}'
