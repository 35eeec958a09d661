"""The derived-template collector's pure parts: the grace setting and who counts as a consumer."""

from __future__ import annotations

import pytest

from aimctl.controllers.derived_templates import GRACE_ENV, GRACE_SECONDS, _age, consumers, grace_seconds


def test_grace_defaults_and_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(GRACE_ENV, raising=False)
    assert grace_seconds() == GRACE_SECONDS == 60.0
    monkeypatch.setenv(GRACE_ENV, "2.5")
    assert grace_seconds() == 2.5
    monkeypatch.setenv(GRACE_ENV, "soon")
    with pytest.raises(ValueError, match="AIMCTL_DERIVED_TEMPLATE_GRACE='soon' is not a number of seconds"):
        grace_seconds()
    monkeypatch.setenv(GRACE_ENV, "-1")
    with pytest.raises(ValueError, match="must be 0 or more seconds"):
        grace_seconds()


def test_services_being_deleted_do_not_count() -> None:
    alive = {"metadata": {"name": "a"}}
    leaving = {"metadata": {"name": "b", "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert consumers([alive, leaving]) == ["a"]
    assert consumers([leaving]) == []


def test_age_of_a_template() -> None:
    assert _age({"metadata": {"creationTimestamp": "2000-01-01T00:00:00Z"}}) > 3600 * 24 * 365
    assert _age({"metadata": {}}) == 0.0
    assert _age({"metadata": {"creationTimestamp": "2999-01-01T00:00:00Z"}}) == 0.0
