"""The committed state diagrams are generated from the current machine definitions."""

from __future__ import annotations

from pathlib import Path

from aimctl import diagrams

ROOT = Path(__file__).resolve().parents[3]


def test_committed_diagrams_are_current() -> None:
    committed = (ROOT / diagrams.DEFAULT_PATH).read_text()
    assert committed == diagrams.render(), "run `aimctl docs diagrams` and commit docs/state-machines.md"


def test_every_machine_is_documented() -> None:
    text = diagrams.render()
    kinds = [m.kind for _, m in diagrams.machines()]
    assert {"AIMServiceTemplate", "AIMImage", "RuntimeConfig"} <= set(kinds)
    for _, machine in diagrams.machines():
        assert f"## {machine.kind}" in text
        for rule in machine.rules:
            assert f"`{rule.name}`" in text


def _blocks(text: str) -> dict[str, str]:
    """The mermaid block of each kind's section ("" when the section has none)."""
    out: dict[str, str] = {}
    for section in text.split("\n## ")[1:]:
        kind = section.split(" ", 1)[0]
        out[kind] = section.split("```mermaid", 1)[1].split("```", 1)[0] if "```mermaid" in section else ""
    return out


def test_no_diagram_connects_every_state_to_every_other() -> None:
    """A decision table (every rule from any state) is shown as its table alone; other kinds draw
    only the rules that depend on the state, each arrow labelled with its rule and guard."""
    blocks = _blocks(diagrams.render())
    for _, machine in diagrams.machines():
        block = blocks[machine.kind]
        if not machine.state_dependent():
            assert block == "", f"{machine.kind} is a decision table: no diagram"
            continue
        arrows = [line.strip() for line in block.splitlines() if "-->" in line and "[*]" not in line]
        drawn = {(a.split(" --> ")[0], a.split(": ", 1)[1].split(" - ")[0]) for a in arrows}
        for rule in machine.rules:
            if rule.source == diagrams.ANY:
                assert not any(name == rule.name for _, name in drawn), f"{rule.name} applies in any state"
            else:
                sources = [rule.source] if isinstance(rule.source, str) else list(rule.source)
                assert {(s, rule.name) for s in sources} <= drawn, f"{machine.kind}: {rule.name} not drawn"
        for arrow in arrows:
            name = arrow.split(": ", 1)[1].split(" - ")[0]
            doc = next(r.doc for r in machine.rules if r.name == name)
            assert not doc or " - " in arrow, f"{arrow!r}: labelled without its guard"
        pairs = {(a.split(" --> ")[0], a.split(" --> ")[1].split(":")[0]) for a in arrows}
        assert len(pairs) < len(machine.states) ** 2, f"{machine.kind}: every state connected to every other"


def test_the_effects_column_reads_the_actions() -> None:
    text = diagrams.render()
    assert "| `start_discovery` | any | Create the discovery Job. | Pending |" in text
    row = next(line for line in text.splitlines() if line.startswith("| 18 | `start_discovery`"))
    assert "apply `discovery-job`" in row
    assert "apply `inference-service`" in text  # the service's common effects, listed once
