"""``aimctl crds``: write the AIM CustomResourceDefinitions generated from the API models.

The CRDs in ``deploy/crds`` are generated, never edited: change the models in ``aimctl/api`` and run
``aimctl crds``. ``--check`` only compares (exit status 1 when a file differs, is missing or is stale),
for CI and pre-commit hooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aimctl.api.crdgen import render_all

DEFAULT_OUT = Path("deploy/crds")
# Generated files are recognised by name, so a stale CRD (a kind that no longer exists) is reported.
_GENERATED_GLOB = "aim.silogen.ai_*.yaml"


def _differences(out: Path, files: dict[str, str]) -> list[str]:
    problems: list[str] = []
    for name, content in files.items():
        path = out / name
        if not path.exists():
            problems.append(f"missing: {path}")
        elif path.read_text(encoding="utf-8") != content:
            problems.append(f"differs: {path}")
    problems.extend(f"stale: {path}" for path in sorted(out.glob(_GENERATED_GLOB)) if path.name not in files)
    return problems


def crds(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the CRDs and kustomization.yaml to.")] = (
        DEFAULT_OUT
    ),
    check: Annotated[
        bool, typer.Option("--check", help="Do not write; exit 1 if the directory is not up to date.")
    ] = False,
) -> None:
    """Generate the AIM CRDs (one file per kind, plus kustomization.yaml)."""
    files = render_all()
    if check:
        problems = _differences(out, files)
        for problem in problems:
            typer.echo(problem, err=True)
        if problems:
            typer.echo("CRDs are out of date: run `aimctl crds`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{len(files)} files up to date in {out}")
        return
    out.mkdir(parents=True, exist_ok=True)
    for stale in sorted(out.glob(_GENERATED_GLOB)):
        if stale.name not in files:
            stale.unlink()
            typer.echo(f"removed {stale}")
    for name, content in files.items():
        path = out / name
        if path.exists() and path.read_text(encoding="utf-8") == content:
            continue
        path.write_text(content, encoding="utf-8")
        typer.echo(f"wrote {path}")
