"""The shared engine: ordered rules, guards, actions, internal transitions, diagrams."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from statemachines.effects import EmitEvent, RequeueAfter
from statemachines.engine import ANY, SAME, KindMachine, NoRuleMatched, Outcome, Rule, always


@dataclass(frozen=True)
class Obs:
    broken: bool = False
    done: bool = False


def _fail(obs: Obs, out: Outcome) -> None:
    out.condition("Ready", False, "Broken", "it broke")
    out.effect(EmitEvent("Warning", "Broken", "it broke"))


def _ready(obs: Obs, out: Outcome) -> None:
    out.condition("Ready", True, "Done")


def _wait(obs: Obs, out: Outcome) -> None:
    out.condition("Ready", False, "Waiting")
    out.effect(RequeueAfter(5))


MACHINE: KindMachine[Obs] = KindMachine(
    "Toy",
    ["Pending", "Progressing", "Ready", "Failed"],
    "Pending",
    [
        Rule("broke", ANY, "Failed", lambda o: o.broken, _fail),
        Rule("finished", ["Pending", "Progressing", "Failed"], "Ready", lambda o: o.done, _ready),
        Rule("stay_ready", "Ready", SAME, lambda o: o.done, _ready),
        Rule("work", ANY, "Progressing", always, _wait),
    ],
)


def test_first_matching_rule_fires_and_declares_its_outcome() -> None:
    d = MACHINE.decide(Obs(broken=True, done=True), "Progressing")
    assert d.rule == "broke"
    assert d.state == "Failed"
    assert d.transition == ("Progressing", "Failed")
    assert [c.status for c in d.conditions] == ["False"]
    assert d.effects == (EmitEvent("Warning", "Broken", "it broke"),)


def test_internal_transition_keeps_state_and_reports_no_transition() -> None:
    d = MACHINE.decide(Obs(done=True), "Ready")
    assert d.rule == "stay_ready"
    assert d.state == "Ready"
    assert d.transition is None


def test_unknown_or_missing_state_starts_from_initial() -> None:
    d = MACHINE.decide(Obs(), None)
    assert d.source == "Pending"
    assert d.state == "Progressing"
    assert d.effects == (RequeueAfter(5),)
    assert MACHINE.decide(Obs(), "Bogus").source == "Pending"


def test_decisions_are_repeatable_and_reuse_one_emptied_model() -> None:
    first = MACHINE.decide(Obs(done=True), "Pending")
    second = MACHINE.decide(Obs(done=True), "Pending")
    assert first == second
    models = list(MACHINE.machine.models)
    for _ in range(5):
        MACHINE.decide(Obs(broken=True), "Ready")
    assert MACHINE.machine.models == models and len(models) == 1, "one model per kind, added once"
    assert models[0].obs is None and models[0].out == Outcome(), "no observation outlives its decision"


def test_a_failing_action_leaves_the_next_decision_unaffected() -> None:
    def explode(obs: Obs, out: Outcome) -> None:
        out.condition("Ready", True, "Half")
        raise RuntimeError("boom")

    machine: KindMachine[Obs] = KindMachine(
        "Boom",
        ["A", "B"],
        "A",
        [Rule("explode", "A", "B", lambda o: o.broken, explode), Rule("stay", ANY, SAME, always)],
    )
    with pytest.raises(RuntimeError, match="boom"):
        machine.decide(Obs(broken=True), "A")
    d = machine.decide(Obs(), "A")
    assert (d.rule, d.source, d.state, d.conditions) == ("stay", "A", "A", ())


def test_missing_catch_all_is_reported_with_kind_and_state() -> None:
    partial: KindMachine[Obs] = KindMachine("Partial", ["A", "B"], "A", [Rule("go", "A", "B", lambda o: o.done)])
    with pytest.raises(NoRuleMatched, match="Partial: no rule matched in state 'A'"):
        partial.decide(Obs(), "A")


def test_rules_must_name_known_states() -> None:
    with pytest.raises(ValueError, match="unknown destination"):
        KindMachine("Bad", ["A"], "A", [Rule("go", "A", "Z", always)])


def test_mermaid_lists_every_named_transition() -> None:
    text = MACHINE.mermaid()
    assert text.startswith("stateDiagram-v2\n    [*] --> Pending\n")
    assert "Pending --> Ready: finished" in text
    assert "Ready --> Ready: stay_ready" in text
