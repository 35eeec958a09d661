"""``aimctl --help`` lists the whole tree of commands, each with its one-line description.

A click group normally lists only its direct subcommands; :class:`TreeGroup` walks the groups below
it too, indenting each level, so ``aimctl --help`` answers "what can this do" in one screen. Plain
click formatting (no rich), so the runtime needs no terminal-rendering library.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup


def command_tree(group: Any, ctx: Any, depth: int = 0, limit: int = 90) -> list[tuple[str, str]]:
    """``(indented name, short help)`` for every visible command below ``group``, depth first; the
    help is the first sentence of the docstring, cut at ``limit`` characters."""
    rows: list[tuple[str, str]] = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        rows.append(("  " * depth + name, cmd.get_short_help_str(limit=limit)))
        if hasattr(cmd, "list_commands"):
            rows.extend(command_tree(cmd, ctx, depth + 1, limit))
    return rows


class TreeGroup(TyperGroup):
    """A typer group whose help lists every nested command (see the module docstring)."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = command_tree(self, ctx)
        width = max(len(name) for name, _ in rows) if rows else 0
        rows = command_tree(self, ctx, limit=max(40, formatter.width - width - 4))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
