"""AIMTemplateCache rules: resolution failures, waiting for model sources, worst-first aggregation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from statemachines.effects import ApplyChild, DeleteChild
from statemachines.engine import Decision
from statemachines.templatecache import (
    MACHINE,
    MODEL_CACHES,
    STALE_MODEL_CACHES,
    ChildCache,
    TemplateCacheObservation,
)

RESOLVED = TemplateCacheObservation(
    template_ref="tpl", template_kind="AIMServiceTemplate", template_state="Available", source_count=2
)


def conditions(d: Decision) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in d.conditions}


def kids(*states: str) -> tuple[ChildCache, ...]:
    return tuple(ChildCache(f"tc-{i}", s) for i, s in enumerate(states))


def test_every_decision_has_ready_and_the_resolution_conditions() -> None:
    for obs in (RESOLVED, replace(RESOLVED, template_kind=""), replace(RESOLVED, children=kids("Available"))):
        d = MACHINE.decide(obs, None)
        assert {"Ready", "Progressing", "Failure", "TemplateResolved", "RuntimeConfigResolved"} <= set(conditions(d))


def test_missing_template_is_failed_and_creates_nothing() -> None:
    d = MACHINE.decide(replace(RESOLVED, template_kind=""), None)
    assert (d.rule, d.state, d.effects) == ("template_missing", "Failed", ())
    assert conditions(d)["TemplateResolved"] == ("False", "TemplateNotFound")
    assert conditions(d)["Failure"] == ("True", "TemplateNotFound")


def test_missing_runtime_config_is_failed() -> None:
    msg = 'AIMRuntimeConfig "nope" not found in namespace "ns"'
    d = MACHINE.decide(replace(RESOLVED, runtime_config_missing=msg, runtime_config_name="nope"), "Available")
    assert (d.rule, d.state, d.effects) == ("runtime_config_missing", "Failed", ())
    assert conditions(d)["RuntimeConfigResolved"] == ("False", "RuntimeConfigMissing")
    assert next(c for c in d.conditions if c.type == "Failure").message == msg


def test_template_without_model_sources_is_pending() -> None:
    d = MACHINE.decide(replace(RESOLVED, source_count=0, template_state="Progressing"), None)
    assert (d.rule, d.state, d.effects) == ("waiting_for_sources", "Pending", ())
    assert conditions(d)["Ready"] == ("False", "WaitingForModelSources")
    assert "(template is Progressing)" in next(c for c in d.conditions if c.type == "Ready").message


def test_sources_without_size_fail_but_the_others_are_still_cached() -> None:
    d = MACHINE.decide(replace(RESOLVED, invalid_sources=("m: no valid size",), children=kids("")), None)
    assert (d.rule, d.state) == ("invalid_sources", "Failed")
    assert ApplyChild(MODEL_CACHES) in d.effects
    assert conditions(d)["Failure"] == ("True", "InvalidModelSource")


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (("", ""), "Progressing"),
        (("Pending", "Progressing"), "Progressing"),
        (("Available", "Progressing"), "Progressing"),
        (("Available", "Available"), "Available"),
        (("Available", "Failed"), "Failed"),
        (("Progressing", "Failed"), "Failed"),
    ],
)
def test_aggregation_is_worst_first(states: tuple[str, ...], expected: str) -> None:
    d = MACHINE.decide(replace(RESOLVED, children=kids(*states)), "Progressing")
    assert d.state == expected
    assert ApplyChild(MODEL_CACHES) in d.effects


def test_available_conditions_and_partial_progress_message() -> None:
    d = MACHINE.decide(replace(RESOLVED, children=kids("Available", "Available")), "Progressing")
    assert conditions(d)["Ready"] == ("True", "Available")
    assert d.transition == ("Progressing", "Available")
    d2 = MACHINE.decide(replace(RESOLVED, children=kids("Available", "Progressing")), "Progressing")
    assert (
        "1 of 2 model caches Available; waiting for tc-1" in next(c for c in d2.conditions if c.type == "Ready").message
    )


def test_failed_child_is_named_in_the_failure() -> None:
    children = (ChildCache("tc-a", "Available"), ChildCache("tc-b", "Failed", "DownloadFailed"))
    d = MACHINE.decide(replace(RESOLVED, children=children), "Progressing")
    failure = next(c for c in d.conditions if c.type == "Failure")
    assert (failure.status, failure.reason) == ("True", "ModelCacheFailed")
    assert "tc-b: DownloadFailed" in failure.message


def test_stale_children_are_deleted() -> None:
    d = MACHINE.decide(replace(RESOLVED, children=kids("Available"), stale_children=("old",)), "Available")
    assert d.effects == (ApplyChild(MODEL_CACHES), DeleteChild(STALE_MODEL_CACHES))


def test_recovers_when_the_failed_child_is_replaced() -> None:
    d = MACHINE.decide(replace(RESOLVED, children=kids("Available", "")), "Failed")
    assert d.transition == ("Failed", "Progressing")
