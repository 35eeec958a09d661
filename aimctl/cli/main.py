"""Entry point of the ``aimctl`` command (and of ``kubectl aim``): registers the command groups.

Each group lives in its own module and is imported here; ``aimctl --help`` lists the whole tree of
commands (:mod:`aimctl.cli.helptree`). The same application installs as the kubectl plugin
``kubectl-aim`` (a console script), so ``kubectl aim get`` and ``kubectl aim explain aimsvc/NAME``
work once the package is installed on ``PATH``.
"""

from __future__ import annotations

import typer

from aimctl.cli import crds, demo, deploy, dev, docs, explain, get, run
from aimctl.cli.helptree import TreeGroup

app = typer.Typer(
    name="aimctl",
    help="aimctl: Kubernetes operator for AMD Inference Microservices (aim.silogen.ai/v1alpha1), and the "
    "commands to see what runs and why not.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=TreeGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 130},
)
app.command("get")(get.get)
app.command("explain")(explain.explain)
app.command("trace", help="Alias of explain.")(explain.explain)
app.command("run")(run.run)
app.command("crds")(crds.crds)
app.add_typer(dev.app, name="dev")
app.add_typer(docs.app, name="docs")
app.add_typer(deploy.app, name="deploy")
dev.app.command("demo")(demo.demo)


def main() -> None:  # pragma: no cover - console entry
    app()


def kubectl_plugin() -> None:  # pragma: no cover - console entry
    """``kubectl aim ...``: kubectl finds ``kubectl-aim`` on PATH and passes the rest of the line."""
    app(prog_name="kubectl aim")


if __name__ == "__main__":  # pragma: no cover
    main()
