"""``aimctl docs``: documentation generated from the code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aimctl import diagrams

app = typer.Typer(help="Generate documentation from the code.", no_args_is_help=True)


@app.command("diagrams")
def diagrams_command(
    output: Annotated[Path, typer.Option(help="Markdown file to write.")] = diagrams.DEFAULT_PATH,
) -> None:
    """Write the state diagrams of every state machine (mermaid) to OUTPUT."""
    typer.echo(f"wrote {diagrams.write(output)}")
