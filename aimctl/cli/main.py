"""Entry point of the ``aimctl`` command (and of ``kubectl aim``): the command groups, loaded lazily.

Each command lives in its own module, imported only when that command runs (or when ``--help``
lists the tree, :mod:`aimctl.cli.helptree`): ``aimctl run`` — the operator image's entry point —
never imports the development cluster (:mod:`aimctl.devcluster`, ``cryptography``), the CRD
generator or the inspection views, so the operator process carries only what it runs
(tests/unit/cli/test_lean_imports.py checks it). The same application installs as the kubectl plugin
``kubectl-aim`` (a console script), so ``kubectl aim get`` and ``kubectl aim explain aimsvc/NAME``
work once the package is installed on ``PATH``.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import typer
import typer.main

from aimctl.cli.helptree import TreeGroup


class Lazy(NamedTuple):
    """Where a command is defined: ``module:attribute``, a command function or a ``typer.Typer``
    group; ``help`` overrides the function's docstring (for aliases); ``extra`` is the pyproject extra
    that installs what the command needs beyond the runtime's packages."""

    module: str
    attribute: str
    help: str | None = None
    extra: str | None = None


#: The top-level commands, in the order ``--help`` lists them.
COMMANDS: dict[str, Lazy] = {
    "get": Lazy("aimctl.cli.get", "get"),
    "explain": Lazy("aimctl.cli.explain", "explain"),
    "trace": Lazy("aimctl.cli.explain", "explain", "Alias of explain."),
    "run": Lazy("aimctl.cli.run", "run"),
    "crds": Lazy("aimctl.cli.crds", "crds"),
    "dev": Lazy("aimctl.cli.dev", "app", extra="devcluster"),
    "docs": Lazy("aimctl.cli.docs", "app"),
    "deploy": Lazy("aimctl.cli.deploy", "app"),
}


def load_command(name: str, where: Lazy) -> Any:
    """Import ``where`` and turn it into a click command named ``name``. When the command needs a
    package that is not installed (an extra's), the command is one that says so (in ``--help`` too)
    and exits 1."""
    holder = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
    holder.callback()(lambda: None)
    try:
        target = getattr(importlib.import_module(where.module), where.attribute)
    except ModuleNotFoundError as e:
        if not where.extra or (e.name or "").split(".")[0] in ("aimctl", "informers", "statemachines", "metrics"):
            raise
        message = f"needs {e.name!r}, which is not installed: pip install 'aimctl[{where.extra}]'"

        def unavailable() -> None:
            typer.echo(f"error: aimctl {name} {message}", err=True)
            raise typer.Exit(1)

        settings = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}
        holder.command(name, help=f"Not installed: {message}.", context_settings=settings)(unavailable)
        return typer.main.get_command(holder).commands[name]  # type: ignore[attr-defined]
    # A holder group with the one entry, as the root would have had it registered eagerly (a typer
    # app with a single command would otherwise collapse into that command).
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name, help=where.help)(target)
    return typer.main.get_command(holder).commands[name]  # type: ignore[attr-defined]


class LazyTreeGroup(TreeGroup):
    """The root group: lists :data:`COMMANDS` and imports a command's module only on first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(load_command(cmd_name, COMMANDS[cmd_name]), cmd_name)
        return self.commands.get(cmd_name)


app = typer.Typer(
    name="aimctl",
    help="aimctl: Kubernetes operator for AMD Inference Microservices (aim.silogen.ai/v1alpha1), and the "
    "commands to see what runs and why not.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=LazyTreeGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 130},
)


@app.callback()
def root() -> None:
    """The root of the command tree (its help is the application's)."""


def main() -> None:  # pragma: no cover - console entry
    app()


def kubectl_plugin() -> None:  # pragma: no cover - console entry
    """``kubectl aim ...``: kubectl finds ``kubectl-aim`` on PATH and passes the rest of the line."""
    app(prog_name="kubectl aim")


if __name__ == "__main__":  # pragma: no cover
    main()
