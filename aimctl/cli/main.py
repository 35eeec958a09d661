"""Entry point of the ``aimctl`` command: registers the command groups.

Each group lives in its own module and is imported here, so ``aimctl --help`` lists everything.
"""

from __future__ import annotations

import typer

from aimctl.cli import crds, demo, deploy, dev, docs, run

app = typer.Typer(
    name="aimctl",
    help="aimctl: Kubernetes operator for AMD Inference Microservices (aim.silogen.ai/v1alpha1).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(dev.app, name="dev")
app.add_typer(docs.app, name="docs")
app.add_typer(deploy.app, name="deploy")
dev.app.command("demo")(demo.demo)
app.command("crds")(crds.crds)
app.command("run")(run.run)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
