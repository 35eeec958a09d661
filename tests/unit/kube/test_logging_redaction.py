"""Secrets never reach the logs: structural redaction and the by-value scrubber."""

from __future__ import annotations

import base64
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


# -- issue 11: scrub what is secret, efficiently ----------------------------------------------------------


def test_ordinary_env_literals_do_not_damage_other_lines() -> None:
    """``true``/``info`` env values are redacted where they appear as env values, but are not secrets:
    a later line that merely contains those words is untouched."""
    buf = io.StringIO()
    SCRUBBER.clear()
    configure_logging("debug", "json", stream=buf)
    try:
        log = structlog.get_logger("t")
        env = [{"name": "LOG_LEVEL", "value": "info"}, {"name": "ENABLED", "value": "true"},
               {"name": "MODEL", "value": "meta-llama/Llama-3.1-8B"}, {"name": "HF_TOKEN", "value": TOKEN}]  # fmt: skip
        log.debug("observed", obj={"spec": {"env": env}})
        log.info("reconciled", ready=True, note="model meta-llama/Llama-3.1-8B is ready; level info", tok=f"x {TOKEN}")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    first, second = (json.loads(line) for line in buf.getvalue().splitlines())
    assert [e["value"] for e in first["obj"]["spec"]["env"]] == [REDACTED] * 4
    assert second["level"] == "info" and second["ready"] is True
    assert second["note"] == "model meta-llama/Llama-3.1-8B is ready; level info"
    assert second["tok"] == f"x {REDACTED}"


def test_secret_values_are_still_scrubbed_by_value() -> None:
    s = SecretScrubber()
    s.redact({"kind": "Secret", "data": {"k": base64.b64encode(b"decoded-secret-value").decode()}})
    s.redact({"env": [{"name": "AWS_SECRET_ACCESS_KEY", "value": "wJalrXUtnFEMI/K7MDENG"}]})
    s.redact({"clientSecret": "abcdefgh-1234"})
    s.register('quote"d\\secret')
    text = 'err: decoded-secret-value wJalrXUtnFEMI/K7MDENG abcdefgh-1234 {"v": "quote\\"d\\\\secret"}'
    assert s.scrub_text(text) == f'err: {REDACTED} {REDACTED} {REDACTED} {{"v": "{REDACTED}"}}'


def test_twenty_thousand_env_values_keep_memory_bounded_and_lines_intact() -> None:
    s = SecretScrubber()
    for chunk in range(200):
        env = [{"name": f"VAR_{i}", "value": f"value-{chunk}-{i}"} for i in range(100)]
        s.redact({"spec": {"env": env}})
    assert len(s) == 0, "ordinary literals are not remembered"
    line = '{"event": "reconciled", "value": "value-7-7", "ready": true}'
    assert s.scrub_text(line) == line
    for chunk in range(200):
        env = [{"name": f"SVC{i}_TOKEN", "value": f"hf_tok_{chunk}_{i}_xyz"} for i in range(100)]
        s.redact({"spec": {"env": env}})
    assert len(s) == 10_000, "at most MAX_REMEMBERED values are kept"
    assert s.scrub_text("a hf_tok_199_99_xyz b") == f"a {REDACTED} b"  # the newest are kept
    assert s.scrub_text("a hf_tok_0_0_xyz b") == "a hf_tok_0_0_xyz b"  # the oldest were forgotten
