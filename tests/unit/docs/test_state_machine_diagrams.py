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
