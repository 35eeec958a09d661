"""Text rendering of tables and trees, coloured with click's ANSI styles when asked (pure).

Colours come from ``typer.style`` (click's ANSI styles, vendored by typer), so the runtime needs no
terminal-rendering library; the caller decides whether to colour (a terminal, no ``NO_COLOR``).
Green is OK, yellow is waiting, red is failed; the blocker is bold.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import typer

from aimctl.inspect.state import FAILED, OK, Health
from aimctl.inspect.tree import Explanation, Node, event_row

_COLOURS: dict[Health, str] = {OK: "green", "waiting": "yellow", FAILED: "red"}


def paint(text: str, health: Health | None, colour: bool, *, bold: bool = False) -> str:
    if not colour or (health is None and not bold):
        return text
    return typer.style(text, fg=_COLOURS.get(health) if health else None, bold=bold or None)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], healths: Sequence[Health | None] = (),
          colour: bool = False, status_column: int = -1) -> str:  # fmt: skip
    """kubectl-style columns (two spaces apart, no trailing blanks); the ``status_column`` cell of
    row ``i`` is coloured by ``healths[i]``."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["   ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for i, row in enumerate(rows):
        cells = []
        for j, (cell, w) in enumerate(zip(row, widths, strict=True)):
            padded = str(cell).ljust(w)
            if j == status_column and i < len(healths):
                padded = paint(str(cell), healths[i], colour) + " " * (w - len(str(cell)))
            cells.append(padded)
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines)


def _label(n: Node) -> str:
    text = n.ref
    extras = [x for x in (n.role, n.note) if x]
    return f"{text} ({'; '.join(extras)})" if extras else text


def tree_lines(root: Node, blocker: Node | None, colour: bool) -> list[str]:
    rows: list[tuple[str, Node]] = []

    def visit(n: Node, prefix: str, child_prefix: str) -> None:
        rows.append((prefix + _label(n), n))
        for i, c in enumerate(n.children):
            last = i == len(n.children) - 1
            visit(c, child_prefix + ("└─ " if last else "├─ "), child_prefix + ("   " if last else "│  "))

    visit(root, "", "")
    width = max(len(label) for label, _ in rows)
    state_w = max(len(n.state.state) for _, n in rows)
    reason_w = max(len(n.state.reason or "-") for _, n in rows)
    out = []
    for label, n in rows:
        is_blocker = n is blocker
        line = (
            paint(label.ljust(width), None, colour, bold=is_blocker)
            + "   "
            + paint(n.state.state.ljust(state_w), n.state.health, colour, bold=is_blocker)
            + "   "
            + (n.state.reason or "-").ljust(reason_w)
            + "   "
            + n.age
        )
        if is_blocker:
            line += "   " + paint("<- blocker", FAILED, colour, bold=True)
        out.append(line.rstrip())
    return out


def explanation(expl: Explanation, now: datetime, colour: bool = False) -> str:
    """The tree, then the blocker (or what the object waits on) with its message and hint, then events."""
    lines = tree_lines(expl.root, expl.blocker, colour)
    lines.append("")
    if expl.blocker is not None:
        b = expl.blocker
        lines.append(paint(f"Blocked by {b.ref}: {b.state.state} ({b.state.reason})", FAILED, colour, bold=True))
        if b.state.message:
            lines.append(f"  message: {b.state.message}")
        lines.append(f"  hint:    {b.hint}")
    elif expl.waiting_on is not None:
        w = expl.waiting_on
        lines.append(paint(f"Waiting on {w.ref}: {w.state.state}" + (f" ({w.state.reason})" if w.state.reason else ""),
                           "waiting", colour))  # fmt: skip
        if w.state.message:
            lines.append(f"  message: {w.state.message}")
        lines.append(f"  hint:    {w.hint}")
    else:
        lines.append(paint(f"{expl.root.ref} is {expl.root.state.state}: nothing blocks it", OK, colour))
    if expl.events:
        lines += ["", "Events (oldest first):"]
        rows = [event_row(e, now) for e in expl.events]
        body = table(
            ["AGE", "TYPE", "REASON", "OBJECT", "MESSAGE"],
            [[r["age"], r["type"], r["reason"], r["object"], r["message"]] for r in rows],
        )
        lines += ["  " + line for line in body.splitlines()]
    return "\n".join(lines)
