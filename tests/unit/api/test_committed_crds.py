"""The CRDs committed in deploy/crds are exactly what ``aimctl crds`` generates from the models."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from aimctl.api.crdgen import render_all
from aimctl.cli.main import app

CRDS = Path(__file__).resolve().parents[3] / "deploy" / "crds"


def test_committed_crds_equal_the_generated_ones() -> None:
    generated = render_all()
    committed = {p.name: p.read_text(encoding="utf-8") for p in CRDS.glob("*.yaml")}
    assert sorted(committed) == sorted(generated), "run `aimctl crds` to regenerate deploy/crds"
    for name, content in generated.items():
        assert committed[name] == content, f"{name} is stale: run `aimctl crds` to regenerate deploy/crds"


def test_generation_is_deterministic() -> None:
    assert render_all() == render_all()


def test_cli_check_and_write(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["crds", "--check", "--out", str(CRDS)]).exit_code == 0

    out = tmp_path / "crds"
    first = runner.invoke(app, ["crds", "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in out.iterdir()) == sorted(render_all())
    assert runner.invoke(app, ["crds", "--check", "--out", str(out)]).exit_code == 0

    # A hand edit and a stale CRD are both reported, then repaired by a regeneration.
    (out / "aim.silogen.ai_aimservices.yaml").write_text("edited\n", encoding="utf-8")
    (out / "aim.silogen.ai_aimgone.yaml").write_text("old\n", encoding="utf-8")
    check = runner.invoke(app, ["crds", "--check", "--out", str(out)])
    assert check.exit_code == 1
    assert "differs" in check.output and "stale" in check.output
    assert runner.invoke(app, ["crds", "--out", str(out)]).exit_code == 0
    assert not (out / "aim.silogen.ai_aimgone.yaml").exists()
    assert runner.invoke(app, ["crds", "--check", "--out", str(out)]).exit_code == 0
